"""An application's certificate credential, as Microsoft Entra ID checks it (for the fake identity provider).

``make_client_certificate`` writes what an administrator makes for a confidential client: one PEM
file holding the private key, then its self-signed certificate (the certificate alone is uploaded
to the app registration). ``check_client_assertion`` is Entra's side: the JWT the client signs
with that key, checked against the registered certificate.
"""

from __future__ import annotations

import base64
import datetime
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def make_client_certificate(path: Path, common_name: str = "tuiapp-test") -> bytes:
    """Write the private key then the self-signed certificate to ``path`` (one PEM file, mode 600);
    return the certificate's PEM (what ``register_app(certificate_pem=...)`` takes)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(key_pem + certificate_pem)
    path.chmod(0o600)
    return certificate_pem


def thumbprint(certificate_pem: bytes, algorithm: str = "sha256") -> str:
    """The certificate's thumbprint as a JWT header carries it: base64url of the DER's digest, unpadded
    (``x5t#S256`` for SHA-256, ``x5t`` for SHA-1)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    digest = certificate.fingerprint(hashes.SHA256() if algorithm == "sha256" else hashes.SHA1())
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class AssertionRefused(Exception):
    """Why Entra refuses a client assertion: ``code`` is the AADSTS number, ``text`` its message."""

    code: int
    text: str


def check_client_assertion(assertion: str, *, client_id: str, certificate_pem: bytes, audience: str) -> None:
    """Raise ``AssertionRefused`` unless ``assertion`` is a JWT signed (PS256 or RS256) by the key of
    ``certificate_pem``, naming that certificate by thumbprint, for ``audience``, issued by and about
    ``client_id``, and valid now (AADSTS700024 for its times, AADSTS700027 for the rest)."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise AssertionRefused(700027, f"Client assertion contains an invalid signature. [Reason - {exc}]") from None
    algorithm = header.get("alg")
    if algorithm not in ("PS256", "RS256"):
        raise AssertionRefused(700027, f"Client assertion contains an invalid signature. [Reason - alg {algorithm!r}]")
    named = _named_thumbprint(header)
    if named is None or named[1] != thumbprint(certificate_pem, named[0]):
        raise AssertionRefused(
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application. "
            f"[Reason - The key was not found., Thumbprint of key used by client: '{named[1] if named else None}']",
        )
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=[algorithm],
            audience=audience,
            options={"require": ["aud", "exp", "iss", "sub"], "verify_exp": False, "verify_nbf": False},
        )
    except jwt.InvalidAudienceError:
        raise AssertionRefused(
            700027, f"Client assertion audience claim does not match Realm issuer. [{audience}]"
        ) from None
    except jwt.PyJWTError as exc:
        raise AssertionRefused(700027, f"Client assertion failed signature validation. [Reason - {exc}]") from None
    if claims["iss"] != client_id or claims["sub"] != client_id:
        raise AssertionRefused(700027, f"Client assertion issuer and subject must be the client id '{client_id}'.")
    now = time.time()
    if float(claims["exp"]) <= now or float(claims.get("nbf", claims.get("iat", now))) > now:
        raise AssertionRefused(
            700024,
            f"Client assertion is not within its valid time range. Current time: {_iso(now)}, "
            f"assertion valid from {_iso(claims.get('nbf', claims.get('iat')))}, "
            f"expiry time of assertion {_iso(claims['exp'])}.",
        )


def _named_thumbprint(header: dict) -> tuple[str, str] | None:
    if isinstance(header.get("x5t#S256"), str):
        return "sha256", header["x5t#S256"].rstrip("=")
    if isinstance(header.get("x5t"), str):
        return "sha1", header["x5t"].rstrip("=")
    return None


def _iso(epoch: object) -> str:
    if not isinstance(epoch, int | float):
        return "unknown"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")

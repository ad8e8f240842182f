"""The identity provider's refusals, read from MSAL's error dicts as Entra sends them, and what the engine does.

Each row: an answer (``error``, ``error_description`` with its trace lines,
``error_codes``, sometimes ``suberror``) as the token endpoint returns it; the
class it must be read as; and words its French sentence must hold (the
command or the place to act).
"""

from __future__ import annotations

import pytest

from tuiapp.mail import identity_problems as ip
from tuiapp.mail import problems as p
from tuiapp.mail.identity_problems import IdentityProblem, identity_problem
from tuiapp.sending.policy import MAX_TRIES, Decision, decide

TRACE = ("\r\nTrace ID: 0b3c5e1a-2f40-4c8e-9d2a-6f1e7a0c3b00\r\nCorrelation ID: 5d2f1c7e-8a9b-4c3d-b1e2-f3a4b5c6d7e8"
         "\r\nTimestamp: 2026-12-03 08:00:00Z")


def answer(error: str, code: int | None, first_line: str, **more) -> dict:
    result = {"error": error, "error_description": first_line + TRACE, **more}
    if code is not None:
        result["error_codes"] = [code]
    return result


ROWS = [
    (answer("invalid_grant", 65001, "AADSTS65001: The user or administrator has not consented to use the "
            "application with ID '11111111-2222-3333-4444-555555555555' named 'tuiapp'.", suberror="consent_required"),
     ip.ConsentMissing, ["administrateur", "« Accorder le consentement administrateur »", "Entra"]),
    (answer("invalid_request", 90002, "AADSTS90002: Tenant 'association.onmicrosoft.cm' not found. Check to make "
            "sure you have the correct tenant ID and are signing into the correct cloud."),
     ip.TenantNotFound, ["tuiapp smtp set --tenant"]),
    (answer("unauthorized_client", 700016, "AADSTS700016: Application with identifier "
            "'11111111-2222-3333-4444-555555555556' was not found in the directory 'Association'."),
     ip.ApplicationNotFound, ["tuiapp smtp set --client-id", "--tenant"]),
    (answer("invalid_client", 7000215, "AADSTS7000215: Invalid client secret provided. Ensure the secret being "
            "sent in the request is the client secret value, not the client secret ID, for a secret added to app "
            "'11111111-2222-3333-4444-555555555555'."),
     ip.ClientSecretRefused, ["tuiapp smtp secret", "valeur du secret"]),
    (answer("invalid_client", 7000222, "AADSTS7000222: The provided client secret keys for app "
            "'11111111-2222-3333-4444-555555555555' are expired. Visit the Azure portal to create new keys for "
            "your app."),
     ip.ClientSecretExpired, ["expiré", "tuiapp smtp secret"]),
    (answer("invalid_client", 700024, "AADSTS700024: Client assertion is not within its valid time range. "
            "Current time: 2026-12-03T08:00:00.0000000Z, assertion valid from 2026-12-03T08:20:00.0000000Z."),
     ip.AssertionOutOfTime, ["horloge", "timedatectl"]),
    (answer("expired_token", 70019, "AADSTS70019: Verification code expired."),
     ip.DeviceCodeExpired, ["expiré", "tuiapp smtp login"]),
    ({"error": "expired_token", "error_description": "The device code has expired."},
     ip.DeviceCodeExpired, ["tuiapp smtp login"]),
    (answer("invalid_grant", 70008, "AADSTS70008: The provided authorization code or refresh token has expired due "
            "to inactivity. Send a new interactive authorization request for this user and resource."),
     ip.SignInExpired, ["tuiapp smtp login", "sudo tuiapp smtp login"]),
    (answer("invalid_grant", 50173, "AADSTS50173: The provided grant has expired due to it being revoked, a fresh "
            "auth token is needed. The user might have changed or reset their password.", suberror="bad_token"),
     ip.SignInExpired, ["révoquée", "tuiapp smtp login"]),
    (answer("invalid_grant", 700082, "AADSTS700082: The refresh token has expired due to inactivity. The token was "
            "issued on 2026-08-01T08:00:00Z and was inactive for 90.00:00:00."),
     ip.SignInExpired, ["tuiapp smtp login"]),
    (answer("invalid_grant", 50076, "AADSTS50076: Due to a configuration change made by your administrator, or "
            "because you moved to a new location, you must use multi-factor authentication to access "
            "'00000002-0000-0ff1-ce00-000000000000'.", suberror="basic_action"),
     ip.MfaRequired, ["double authentification", "tuiapp smtp login", "administrateur"]),
    (answer("interaction_required", 50079, "AADSTS50079: Due to a configuration change made by your administrator, "
            "or because you moved to a new location, you are required to use multi-factor authentication."),
     ip.MfaRequired, ["tuiapp smtp login"]),
    ({"error": "authorization_declined", "error_description": "AADSTS70000: The user declined the sign-in."},
     ip.SignInDeclined, ["refusée", "téléphone", "tuiapp smtp login"]),
    (answer("invalid_client", 700027, "AADSTS700027: Client assertion failed signature validation. (Reason - The "
            "key was not found., Thumbprint of key used by client: 'A1B2C3D4E5F6A1B2C3D4E5F6A1B2C3D4E5F6A1B2'."),
     ip.CertificateNotRecognised, ["Certificats et secrets", "tuiapp smtp set --certificate"]),
    ({"error": "invalid_client", "error_description": "Client assertion contains an invalid signature."},
     ip.CertificateNotRecognised, ["tuiapp smtp set --certificate"]),
    (answer("invalid_scope", 70011, "AADSTS70011: The provided request must include a 'scope' input parameter. The "
            "provided value for the input parameter 'scope' is not valid."),
     ip.ScopeInvalid, ["permission", "tuiapp smtp set --authority"]),
    (answer("invalid_request", 7000112, "AADSTS7000112: Application '11111111-2222-3333-4444-555555555555'"
            "(tuiapp) is disabled."),
     IdentityProblem, ["responsable informatique"]),
]


def _label(row) -> str:
    codes = row[0].get("error_codes") or []
    return f"{row[1].__name__}-{codes[0] if codes else row[0]['error']}"


@pytest.mark.parametrize("result, kind, words", ROWS, ids=[_label(row) for row in ROWS])
def test_each_answer_is_read_as_its_problem_with_a_french_sentence(result, kind, words):
    problem = identity_problem(result)
    assert type(problem) is kind
    sentence = problem.sentence()
    assert sentence[0].isupper() and sentence.endswith(".") and len(sentence) < 260
    assert all(word in sentence for word in words), sentence
    first_line = result["error_description"].splitlines()[0]
    assert problem.reply == first_line
    assert str(problem) == f"{sentence} Réponse de Microsoft : {first_line}"
    assert "Trace ID" not in str(problem) and "Correlation ID" not in str(problem)
    assert problem.settings_problem
    assert problem.code is None and problem.error == result["error"]


def test_the_code_found_in_the_text_when_the_list_is_missing():
    problem = identity_problem({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client "
                                "secret provided."})
    assert type(problem) is ip.ClientSecretRefused and problem.codes == (7000215,)
    assert type(identity_problem({"error_codes": ["65001"]})) is ip.ConsentMissing
    assert type(identity_problem({"error": "invalid_grant", "suberror": "consent_required"})) is ip.ConsentMissing


def test_the_first_known_code_wins():
    problem = identity_problem({"error": "invalid_grant", "error_codes": [12345, 50173, 70008],
                                "error_description": "AADSTS50173: The provided grant has expired."})
    assert type(problem) is ip.SignInExpired and problem.codes == (12345, 50173, 70008)


def test_an_unknown_answer_is_generic_with_the_providers_text():
    problem = identity_problem({"error": "temporarily_unavailable", "error_codes": [90033],
                                "error_description": "AADSTS90033: A transient error has occurred. Please try again."})
    assert type(problem) is IdentityProblem
    assert str(problem) == ("Connexion à Office 365 refusée : transmettez ce message à votre responsable "
                            "informatique. Réponse de Microsoft : AADSTS90033: A transient error has occurred. "
                            "Please try again.")
    assert str(identity_problem({"error": "server_error"})).endswith("Réponse de Microsoft : server_error")
    assert str(identity_problem({})) == IdentityProblem.text
    assert str(identity_problem({"error": 42, "error_description": None, "error_codes": "x"})) == IdentityProblem.text


def test_the_reply_keeps_one_line_without_control_characters():
    problem = identity_problem({"error": "invalid_client", "error_codes": [7000215],
                                "error_description": "  AADSTS7000215: Invalid \x1b]0;owned\x07client\u202e secret"
                                                     "\nsecond line\r\nthird"})
    assert problem.reply == "AADSTS7000215: Invalid \ufffd]0;owned\ufffdclient\ufffd secret"
    assert "second line" not in str(problem) and "\x1b" not in str(problem)
    long = identity_problem({"error_description": "AADSTS90033: " + "x" * 1000})
    assert len(long.reply) == ip.REPLY_LIMIT and long.reply.endswith("…")


SECRET = "Xy7Q~s3cr3tV4lu3.Abc_Def-0123456789zz"
ASSERTION = "eyJhbGciOiJSUzI1NiIsIng1dCI6IkFCQyJ9.eyJhdWQiOiJodHRwczovL2xvZ2luIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize("result", [
    {"error": "invalid_client", "error_codes": [7000215], "error_description": "AADSTS7000215: Invalid client "
     "secret provided." + TRACE + f"\r\nclient_secret={SECRET}", "client_secret": SECRET,
     "client_assertion": ASSERTION, "access_token": ASSERTION, "refresh_token": SECRET},
    {"error": SECRET, "suberror": ASSERTION, "error_codes": [SECRET], "claims": SECRET},
    {"error": f"invalid_client {SECRET}", "client_assertion": ASSERTION},
    {"error": "invalid_grant", "error_description": "\n" + SECRET, "refresh_token": SECRET},
], ids=["other-keys-and-later-lines", "odd-values", "error-with-spaces", "description-after-a-blank-line"])
def test_nothing_we_sent_appears(result):
    problem = identity_problem(result)
    shown = f"{problem} {problem!r} {problem.error} {problem.suberror} {problem.codes}"
    assert SECRET not in shown and ASSERTION not in shown and "s3cr3t" not in shown


def test_the_problems_raised_without_an_answer():
    assert str(ip.NotSignedIn()) == ("Aucune connexion Office 365 : lancez tuiapp smtp login (sur le serveur de "
                                     "l'association : sudo tuiapp smtp login), ou le bouton Se connecter de la "
                                     "fenêtre Serveur SMTP.")
    assert "tuiapp smtp secret" in str(ip.ClientSecretMissing())
    assert "--ca-file" in str(ip.IdentityCertificateRejected())
    assert "réseau" in str(ip.IdentityUnreachable()) and not ip.IdentityUnreachable.settings_problem
    assert str(ip.SignInCancelled()) == "Connexion Office 365 annulée (tuiapp smtp login pour recommencer)."
    assert str(ip.ClockOutOfStep(420.0)).startswith("L'horloge de ce serveur avance de 7 min, Office 365 refusera")
    assert str(ip.ClockOutOfStep(-95)).startswith("L'horloge de ce serveur retarde de 95 s,")
    assert "timedatectl" in str(ip.ClockOutOfStep(600)) and ip.ClockOutOfStep(-95).offset_seconds == -95
    missing = ip.CertificateUnreadable("/etc/tuiapp/oauth.pem", "missing")
    assert str(missing) == ("Certificat de l'application illisible : /etc/tuiapp/oauth.pem (fichier introuvable) ; "
                            "vérifiez tuiapp smtp set --certificate.")
    assert "aucune clé privée" in str(ip.CertificateUnreadable("/etc/tuiapp/oauth.pem", "no-key"))
    assert "\x1b" not in str(ip.CertificateUnreadable("/tmp/\x1b[2Jx.pem"))
    assert ip.CertificateUnreadable("/x.pem").path == "/x.pem"


def _all_identity_classes() -> set[type]:
    found, todo = {IdentityProblem}, [IdentityProblem]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _instance(kind):
    if kind is ip.ClockOutOfStep:
        return kind(-600)
    if kind is ip.CertificateUnreadable:
        return kind("/etc/tuiapp/oauth.pem")
    if kind is ip.OAuthSettingsProblem:
        return kind("Réglages OAuth incomplets : indiquez --tenant (tuiapp smtp set).")
    return kind()


@pytest.mark.parametrize("kind", sorted(_all_identity_classes(), key=lambda kind: kind.__name__))
def test_every_identity_problem_stops_the_batch_with_a_sentence(kind):
    problem = _instance(kind)
    assert isinstance(problem, p.SmtpProblem)
    text = str(problem)
    assert text[0].isupper() and text.endswith(".") and len(text) < 260
    assert not any(tag in text for tag in ("None", "{", "Réponse"))
    assert problem.settings_problem is (kind is not ip.IdentityUnreachable)
    for attempt in range(MAX_TRIES):
        for can_renew in (False, True):
            assert decide(problem, attempt, can_renew=can_renew) is Decision.STOP_BATCH


def test_every_class_is_reachable():
    """Each class that reads an answer is named in the tables, and each table's class is tried above."""
    read = set(ip.BY_CODE.values()) | set(ip.BY_ERROR.values())
    assert read == {kind for _, kind, _ in ROWS} - {IdentityProblem}
    assert set(ip.BY_CODE) >= {65001, 90002, 700016, 7000215, 7000222, 700024, 70019, 70008, 50173, 700082, 50076,
                               50079, 700027, 70011}


def test_the_smtp_refusals_of_oauth_and_what_the_engine_does():
    disabled = p.classify_reply(535, b"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                                     b"for the Mailbox.", stage="auth")
    retired = p.classify_reply(550, b"5.7.30 Basic authentication is not supported for Client Submission.",
                               stage="auth")
    refused = p.TokenRefused(535, "5.7.3 Authentication unsuccessful")
    assert type(disabled) is p.SmtpAuthDisabled and type(retired) is p.BasicAuthRetired
    for problem in (disabled, retired):
        assert decide(problem, 0, can_renew=True) is decide(problem, MAX_TRIES - 1) is Decision.STOP_BATCH
        assert problem.settings_problem
    assert decide(refused, 0, can_renew=True) is Decision.RENEW_AND_RETRY
    assert decide(refused, 0, can_renew=False) is Decision.STOP_BATCH and refused.settings_problem
    assert "Add-MailboxPermission" in str(refused) and "--username" in str(refused)


def test_the_module_needs_neither_msal_nor_the_database():
    import subprocess
    import sys

    code = ("import sys, tuiapp.mail.identity_problems; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'msal' or m.startswith('tuiapp.db')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

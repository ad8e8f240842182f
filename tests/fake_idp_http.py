"""The HTTPS side of the fake identity provider: Entra's three endpoints msal uses, and its error shape.

Routes (``{tenant}`` is checked by the provider):

    GET  /{tenant}/v2.0/.well-known/openid-configuration
    POST /{tenant}/oauth2/v2.0/devicecode
    POST /{tenant}/oauth2/v2.0/token

Refusals (``tests.entra_refusals.EntraError``) are answered in Entra's JSON shape.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from tests.entra_refusals import EntraError, missing, wrong_method

if TYPE_CHECKING:
    from tests.fake_idp import FakeIdentityProvider


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request a connection: nothing left open at stop()

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def setup(self) -> None:
        self.request.do_handshake()  # in this request's thread (the listening socket does not)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, method: str) -> None:
        idp = self.server.idp
        path = urlsplit(self.path).path
        idp._record_request(method, path)
        correlation_id = self.headers.get("client-request-id")
        parts = path.strip("/").split("/")
        tenant, rest = parts[0], "/".join(parts[1:])
        try:
            failure = idp._take_failure()
            if failure is not None:
                raise failure
            if rest == "v2.0/.well-known/openid-configuration":
                self._expect(method, "GET")
                self._send(200, idp._discovery(tenant))
            elif rest in ("oauth2/v2.0/devicecode", "oauth2/v2.0/token"):
                self._expect(method, "POST")
                form = self._form()
                if rest.endswith("devicecode"):
                    self._send(200, idp._device_authorization(tenant, form, self.headers.get("Accept-Language", "")))
                else:
                    self._send(200, idp._token(tenant, form))
            else:
                self._send(404, {"error": "not_found"})
        except EntraError as refusal:
            self._send(refusal.status, refusal.body(correlation_id))

    def _expect(self, method: str, wanted: str) -> None:
        if method != wanted:
            raise wrong_method(wanted)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if self.headers.get_content_type() != "application/x-www-form-urlencoded":
            raise missing("grant_type")
        form = {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):  # RFC 6749 2.3.1: client_id:client_secret, each form-encoded
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                raise EntraError(401, "invalid_client", 7000215, "Invalid client secret provided.") from None
            form.setdefault("client_id", unquote_plus(client_id))
            form.setdefault("client_secret", unquote_plus(secret))
        return form

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store, no-cache")
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    idp: FakeIdentityProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ssl.SSLError | ConnectionError):
            return  # a client that hangs up or fails the TLS handshake: nothing to answer
        self.idp.internal_errors.append(traceback.format_exc())  # a bug of the fake: its tests check
        super().handle_error(request, client_address)


def serve(idp: FakeIdentityProvider, port: int, context: ssl.SSLContext) -> tuple[_Server, threading.Thread]:
    """Start the HTTPS server for ``idp`` on 127.0.0.1:``port`` in a daemon thread."""
    server = _Server(("127.0.0.1", port), _RequestHandler)
    server.idp = idp
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread

"""AUTH XOAUTH2: the SMTP login with an OAuth 2.0 access token (Office 365, Gmail).

The client sends ``base64("user=" + mailbox + "\\x01auth=Bearer " + token +
"\\x01\\x01")``; the user is the mailbox the token was issued for (the one
that signed in, or the one the application may send as). A refusal (535
5.7.3) is ``TokenRefused``: the send engine asks for one fresh token
(``renew``), and a second refusal stops the batch, as a settings problem.
"""

from __future__ import annotations

import base64
import smtplib
from dataclasses import dataclass, field

from tuiapp.mail import problems as p
from tuiapp.mail.identity import TokenSource


def xoauth2_string(mailbox: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, base64-encoded."""
    raw = f"user={mailbox}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


@dataclass
class XOAuth2Authenticator:
    username: str
    tokens: TokenSource = field(repr=False)
    _fresh: bool = field(default=False, init=False, repr=False)

    def authenticate(self, smtp: smtplib.SMTP) -> None:
        mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
        if "XOAUTH2" not in mechanisms:
            raise p.NoAuthOffered()
        token = self.tokens.token(fresh=self._fresh)
        self._fresh = False
        response = xoauth2_string(self.username, token.value.reveal())
        code, reply = smtp.docmd("AUTH", "XOAUTH2 " + response)
        if code == 334:  # the server's error, as a challenge: an empty line ends the exchange
            code, reply = smtp.docmd("")
        if code not in (235, 503):
            problem = p.classify_reply(code, reply, stage="auth")
            if type(problem) is p.AuthenticationFailed:
                problem = p.TokenRefused(code, problem.reply)
            raise problem

    def renew(self) -> bool:
        self._fresh = True
        return True

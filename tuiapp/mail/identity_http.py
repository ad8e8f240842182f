"""The HTTP session MSAL talks to the identity provider through.

It goes to the configured authority only (its host and port; https), follows
no redirect (a 307 keeps the body, the client secret or signed assertion with
it), trusts the system's authorities plus the association's CA file (an
environment's ``REQUESTS_CA_BUNDLE`` does not replace them), and notes the
provider's clock from its ``Date`` header (a clock out of step is then said).
"""

from __future__ import annotations

import ssl
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests

HTTP_TIMEOUT = 30.0


class ForeignEndpoint(Exception):
    """A request for a host other than the configured authority's."""


def identity_session(authority: str, ca_file: str | None) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    allowed = urlsplit(authority)

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["ssl_context"] = context
            return super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, *args, **kwargs):
            kwargs["ssl_context"] = context
            return super().proxy_manager_for(*args, **kwargs)

    class Session(requests.Session):
        clock_offset: float | None = None  # the provider's clock minus ours, from its Date header

        def request(self, method, url, *args, **kwargs):
            if not _same_place(urlsplit(url), allowed):
                raise ForeignEndpoint(urlsplit(url).hostname or "")
            kwargs.setdefault("timeout", HTTP_TIMEOUT)
            kwargs["allow_redirects"] = False  # a redirect (307 keeps the body) would carry the secret elsewhere
            response = super().request(method, url, *args, **kwargs)
            if response.is_redirect:
                raise ForeignEndpoint(urlsplit(response.headers.get("location", "")).hostname or "?")
            try:
                self.clock_offset = parsedate_to_datetime(response.headers["Date"]).timestamp() - time.time()
            except (KeyError, TypeError, ValueError):
                pass
            return response

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            settings["verify"] = True  # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE never replace the trust store
            return settings

    session = Session()
    session.mount("https://", Adapter())
    return session


def _same_place(target, allowed) -> bool:
    """Same scheme (https), host and port (443 when unsaid) as the configured authority."""
    return target.scheme == "https" and (target.hostname, target.port or 443) == (allowed.hostname,
                                                                                  allowed.port or 443)

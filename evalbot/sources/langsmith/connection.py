"""Where LangSmith is and how patiently to talk to it; endpoint credentials never shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from evalbot.errors import InputError

DEFAULT_ENDPOINT = "https://api.smith.langchain.com"
DEFAULT_FETCH_DEADLINE_S = 300.0


@dataclass(frozen=True, slots=True)
class Connection:
    """Where LangSmith is and how patiently to talk to it. The key never prints.

    ``timeout_s``: one attempt, connect to last byte; ``retry_budget_s``: time
    spent retrying one request; ``fetch_deadline_s``: the whole fetch (None:
    the default). ``log``: called with a line per request and failed attempt
    (``-v``).
    """

    api_key: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    timeout_s: float = 30.0
    retry_budget_s: float = 60.0
    fetch_deadline_s: float | None = None
    log: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    @property
    def request_deadline_s(self) -> float:
        """Hard wall-clock limit on one request with its retries: timeout + retry_budget."""
        return self.timeout_s + self.retry_budget_s

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages show it: userinfo redacted."""
        return redact_url(self.endpoint)


# --- endpoints and secrets --------------------------------------------------------------

# Userinfo (``user:password@``) in any URL in a text. Greedy up to the last "@"
# before the path, so a raw "@" inside the password is covered too.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def redact_url(text: str) -> str:
    """``text`` (a URL, or a message containing URLs) with every URL's userinfo
    (``user:password@``) replaced by ``***@``.

    The one place evalbot hides endpoint credentials: every message, link and
    report field that can show the LangSmith endpoint goes through it.
    """
    return _USERINFO.sub(r"\1***@", text)


def endpoint_password(endpoint: str) -> str | None:
    """The password in ``endpoint``'s userinfo (percent-decoded), if any."""
    try:
        password = urlsplit(endpoint).password
    except ValueError:
        return None
    return unquote(password) if password else None


def validate_endpoint(endpoint: str, *, name: str) -> str:
    """``endpoint`` without a trailing slash, or InputError naming ``name``.

    Only http(s) URLs with a host: the key is sent to it as a header. The URL is
    never echoed with its userinfo.
    """
    shown = redact_url(endpoint)
    if "://" not in shown and "@" in shown:  # userinfo without a scheme: hide it all
        shown = "***@" + shown.rsplit("@", 1)[1]
    # A query or fragment (`?api_key=…`) may carry a credential, and the SDK
    # appends paths after it: refused, and never echoed.
    cut = re.search(r"[?#]", shown)
    if cut:
        shown = shown[: cut.start()] + shown[cut.start()] + "***"
    problem = f"{name}: must be an http(s) URL like {DEFAULT_ENDPOINT}; got {shown!r}"
    if any(ch.isspace() for ch in endpoint) or cut:
        raise InputError(
            problem + (" (no query string or fragment: the API paths go after it)" if cut else "")
        )
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InputError(problem) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(problem)
    return endpoint.rstrip("/")

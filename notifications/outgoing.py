"""The one client for requests to URLs a merchant or integrator gave us (webhook endpoints, the chat
bot's base URL, any later one): nothing here may be turned against the platform's own network.

- https only, unless DEBUG is on;
- every address the host resolves to must be public (loopback, private, link-local, shared, multicast,
  reserved and unspecified ranges are refused), checked when the URL is saved (`url_check`) and again
  before every request; the connection itself goes to the address checked at connect time
  (requests-hardened pins the resolved IP and refuses a private one), so a DNS answer that changes
  between the check and the connect (rebinding) reaches nothing private;
- redirects are never followed (a 3xx is an answer like any other);
- a bounded time per request, and only a short, sanitised excerpt of the answer is kept.

`WEBHOOK_PRIVATE_ALLOWLIST` (comma-separated `host:port`) names internal receivers an operator allows
anyway, over http too; nothing else private is ever reached.

A host that does not resolve when the URL is saved is accepted (DNS may be down, or the name not
published yet): the check before every request still refuses it if it then points somewhere private.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext, gettext_noop
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress

#: (connect, read) seconds of one request when the caller gives none.
TIMEOUT = (3.05, 5.0)
#: Characters of an answer kept (status line aside).
EXCERPT_CHARS = 200
#: Bytes of an answer read at most; the rest is never downloaded.
MAX_READ_BYTES = 4096
USER_AGENT = "loyalty-outgoing/1.0"

_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeURL(Exception):
    """The URL may not be requested; the message says why, in words fit for the merchant."""


class OutgoingError(Exception):
    """The request was allowed but failed on the way (refused, timed out, bad TLS)."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _allowlist() -> set[tuple[str, int]]:
    raw = getattr(settings, "WEBHOOK_PRIVATE_ALLOWLIST", "") or ""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    allowed = set()
    for item in (i.strip().lower() for i in items):
        host, sep, port = item.rpartition(":")
        if sep and host and port.isdigit():
            allowed.add((host.strip("[]"), int(port)))
    return allowed


#: why a private or reserved address is refused (an admin form error and the API's message)
UNREACHABLE = gettext_noop("This address is not reachable from the platform (private or reserved network).")


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, host without brackets, port) of `url`; raises UnsafeURL when it has none."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise UnsafeURL(gettext("Enter a valid URL."))
    if scheme not in _DEFAULT_PORTS or not host:
        raise UnsafeURL(gettext("Enter a valid http(s) URL."))
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def _is_allowlisted(host: str, port: int) -> bool:
    return (host, port) in _allowlist()


def address_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address that routes on the public internet (an IPv4-mapped IPv6 address is judged
    by its IPv4 address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None:
    """Every address of `host`, or None when it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    # an IPv6 answer may carry a scope ("fe80::1%eth0"): the address is what counts
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def url_check(url: str, *, unresolved_ok: bool = True) -> None:
    """Raise UnsafeURL unless `url` may be requested: https (http too when DEBUG is on), and a host
    whose every address is public, or a `host:port` in WEBHOOK_PRIVATE_ALLOWLIST (then http is fine).
    A host that does not resolve passes when `unresolved_ok` (saving a URL), else raises
    OutgoingError (about to send)."""
    scheme, host, port = _target(url)
    if _is_allowlisted(host, port):
        return
    if scheme != "https" and not settings.DEBUG:
        raise UnsafeURL(gettext("Use an https:// URL."))
    addresses = _resolve(host, port)
    if addresses is None:
        if unresolved_ok:
            return
        raise OutgoingError(f"cannot resolve {host}")
    for ip in addresses:
        if not address_is_public(ip):
            raise UnsafeURL(gettext(UNREACHABLE))


_PUBLIC = Manager(
    Config(
        ip_filter_enable=True,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=TIMEOUT,
        user_agent_override=USER_AGENT,
    )
)
_ALLOWLISTED = Manager(
    Config(
        ip_filter_enable=False,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=TIMEOUT,
        user_agent_override=USER_AGENT,
    )
)


def excerpt(text: str, *, limit: int = EXCERPT_CHARS) -> str:
    """`text` with control characters (and other non-printing ones) replaced by spaces, runs of
    whitespace folded, cut to `limit` characters: safe to store and show in the admin."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())[:limit]


def post(
    url: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
    deadline: float | None = None,
) -> Answer:
    """POST to `url` through the safe client. Returns the answer's status and a short sanitised
    excerpt of its body. Raises UnsafeURL when the URL is refused (nothing was sent), OutgoingError
    when the request failed on the way. `deadline` (seconds, default the sum of the timeouts) bounds
    reading the body, so a receiver trickling bytes cannot hold the caller."""
    url_check(url, unresolved_ok=False)
    _scheme, host, port = _target(url)
    manager = _ALLOWLISTED if _is_allowlisted(host, port) else _PUBLIC
    timeout = timeout or getattr(settings, "OUTGOING_TIMEOUT", None) or TIMEOUT
    started = time.monotonic()
    limit = deadline if deadline is not None else sum(timeout)
    try:
        with manager.get_session() as session:
            session.trust_env = False  # no proxy or .netrc from the environment: the check is the route
            response = session.post(
                url,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            )
            with response:
                body = b""
                for chunk in response.iter_content(chunk_size=1024):
                    body += chunk
                    if len(body) >= MAX_READ_BYTES or time.monotonic() - started > limit:
                        break
                text = body[:MAX_READ_BYTES].decode(response.encoding or "utf-8", "replace")
                return Answer(response.status_code, excerpt(text))
    except requests.RequestException as error:
        if isinstance(error, InvalidIPAddress):
            raise UnsafeURL(gettext(UNREACHABLE))
        raise OutgoingError(f"{type(error).__name__}: {excerpt(str(error), limit=300)}") from error
    except LookupError as error:  # an unknown charset in the answer
        raise OutgoingError(f"unreadable answer: {error}") from error

"""Keep camera credentials out of logs, CSVs, metrics labels and error messages.

Cameras are addressed as ``rtsp://user:password@host:554/path``; some vendors also put secrets in
the query string (``?user=admin&password=...``). Everything facelog prints or writes about a
camera goes through :func:`redact_url` or :func:`redact_text`; :class:`RedactingFilter` is a last
line of defence on log handlers for text that came from elsewhere (FFmpeg, exceptions).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query keys whose values are secrets on common IP cameras (Dahua, Hikvision, Axis, ...).
SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "pwd", "token", "auth", "key", "secret"})

# scheme://userinfo@ where userinfo has a ':' (user:password). The password may contain anything
# but '@' and whitespace; the greedy match ends at the *last* '@' before the host.
_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^\s]*)@")
_QUERY_SECRET_RE = re.compile(
    r"(?P<key>[?&](?:" + "|".join(sorted(SECRET_QUERY_KEYS)) + r")=)(?P<val>[^&\s#]+)", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """Return ``url`` with its password (and secret query values) replaced by ``***``.

    Args:
        url: any URL, e.g. ``rtsp://user:pass@host:554/stream?channel=1``; need not be valid.

    Returns:
        The same URL with ``rtsp://user:***@host:554/stream?channel=1``. The user name is kept
        (it tells an operator which account is used); a URL without credentials is unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal: fall back to the regex
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _pw = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if sep else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask credentials of every URL inside free text, and every known secret string.

    Args:
        text: a log message, exception text, FFmpeg output...
        secrets: exact strings to mask wherever they appear (the passwords of configured cameras,
            also in their percent-decoded form).

    Returns:
        ``text`` with ``scheme://user:***@`` for every embedded URL and ``***`` for each secret.
    """
    out = _USERINFO_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    out = _QUERY_SECRET_RE.sub(lambda m: f"{m['key']}{MASK}", out)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret and secret != MASK:
            out = out.replace(secret, MASK)
    return out


def url_secrets(url: str) -> set[str]:
    """The secret strings inside ``url`` (password and secret query values, raw and decoded)."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    userinfo = parts.netloc.rpartition("@")[0]
    if ":" in userinfo:
        pw = userinfo.partition(":")[2]
        found.update({pw, unquote(pw)})
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k.lower() in SECRET_QUERY_KEYS and v:
            found.update({v, unquote(v)})
    # Very short secrets would mask unrelated text ("1" everywhere); URL-form masking still applies.
    return {s for s in found if len(s) >= 3}


class RedactingFilter(logging.Filter):
    """A handler filter that masks credentials in the final message (and exception text).

    Attach it to handlers (not loggers): handler filters also see records propagated from child
    loggers. The record is rewritten in place, so every later handler sees the masked text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("facelog-redact")
        self.secrets: set[str] = set(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, masked; the formatter then uses exc_text as is.
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


def install_log_redaction(secrets: Iterable[str] = ()) -> RedactingFilter:
    """Add (or update) one :class:`RedactingFilter` on every handler of the root logger.

    Also sets :func:`logging.lastResort`'s filter, so messages logged before any handler exists are
    masked too. Returns the filter; call again with more secrets to extend it.
    """
    root = logging.getLogger()
    handlers = [*root.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    existing = next(
        (f for h in handlers for f in h.filters if isinstance(f, RedactingFilter)),
        None,
    )
    filt = existing or RedactingFilter()
    filt.secrets.update(secrets)
    for handler in handlers:
        if filt not in handler.filters:
            handler.addFilter(filt)
    return filt

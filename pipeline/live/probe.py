"""Say *why* a camera cannot be opened: OpenCV only reports "not opened".

After a failed open, :func:`diagnose` repeats the first steps by hand (DNS, TCP connect, one RTSP
``DESCRIBE``) and returns a short reason an operator can act on. Messages carry no credentials.
"""

from __future__ import annotations

import base64
import socket
from urllib.parse import unquote, urlsplit

DEFAULT_RTSP_PORT = 554


def validate_url(url: str) -> str:
    """Return what is wrong with ``url`` as an RTSP camera address, or ``""`` when it looks usable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # bad port number, broken IPv6 literal
        return f"malformed URL ({exc})"
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        return f"expected scheme rtsp:// or rtsps://, got {parts.scheme + '://' if parts.scheme else 'none'}"
    if not parts.hostname:
        return "no host name"
    if port == 0:
        return "port 0 is not a valid port"
    return ""


def _describe_request(url: str) -> bytes:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    clean = parts._replace(netloc=netloc).geturl()
    lines = [f"DESCRIBE {clean} RTSP/1.0", "CSeq: 1", "Accept: application/sdp", "User-Agent: facelog-probe"]
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        lines.append("Authorization: Basic " + base64.b64encode(token).decode())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def diagnose(url: str, timeout_s: float = 3.0) -> tuple[str, str]:
    """Find out why ``url`` does not stream.

    Args:
        url: the camera URL (credentials are used for the probe, never returned).
        timeout_s: budget for the connect and for the RTSP answer, each.

    Returns:
        ``(kind, reason)`` where kind is one of ``malformed``, ``dns``, ``refused``,
        ``unreachable``, ``auth``, ``not_found``, ``rtsp_error``, ``no_answer``, ``no_video``.
    """
    problem = validate_url(url)
    if problem:
        return "malformed", problem
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or DEFAULT_RTSP_PORT
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return "dns", f"host name {host!r} does not resolve ({exc.strerror})"
    family, socktype, proto, _, addr = infos[0]
    try:
        with socket.socket(family, socktype, proto) as sock:
            sock.settimeout(timeout_s)
            try:
                sock.connect(addr)
            except ConnectionRefusedError:
                return "refused", f"connection refused: nothing listens on {where}"
            except TimeoutError:
                return (
                    "unreachable",
                    f"no TCP answer from {where} within {timeout_s:g} s (host down or filtered)",
                )
            except OSError as exc:
                return "unreachable", f"cannot reach {where}: {exc.strerror or exc}"
            if parts.scheme.lower() == "rtsps":
                return "no_video", f"{where} accepts TLS connections but the stream did not open"
            sock.sendall(_describe_request(url))
            try:
                head = sock.recv(1024).decode("latin-1")
            except TimeoutError:
                return (
                    "no_answer",
                    f"{where} accepted the connection but did not answer within {timeout_s:g} s",
                )
    except OSError as exc:
        return "unreachable", f"cannot reach {where}: {exc.strerror or exc}"
    status = head.split("\r\n", 1)[0].strip()
    fields = status.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("RTSP/"):
        return "rtsp_error", f"{where} is not an RTSP server (answered {status[:60]!r})"
    code = fields[1]
    text = fields[2] if len(fields) > 2 else ""
    if code == "401":
        return "auth", f"401 {text}: wrong or missing user name/password"
    if code == "404":
        return "not_found", f"404 {text}: no stream at path {parts.path or '/'!r}"
    if code.startswith("2"):
        return "no_video", f"server answered {code} {text} but no video could be decoded"
    return "rtsp_error", f"server answered {code} {text}"

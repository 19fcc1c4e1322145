"""Guarded outbound HTTP: the only code that sends requests to client-supplied URLs.

A client controls the URL, so every request is treated as an SSRF attempt until proven otherwise
(docs/reliability.md, guarded outbound HTTP; OWASP API7/API10):

- ``check_url`` is what accepting a URL (a task's or batch's callback, a webhook endpoint) runs:
  syntax, scheme, and the address when the host is written as one (``10.0.0.1``, ``[::1]``,
  ``2130706433``, ``localhost``). It never resolves a name: creation must not depend on DNS (a
  slow or offline resolver would refuse good work), and a check made then would prove nothing at
  send time anyway.
- ``validate_url`` parses the URL (http/https only, no credentials, a host) and resolves it; every
  resolved address must be globally routable. It runs at send time (``post_json``). Loopback is
  allowed only when ``QUORUM_OUTBOUND_ALLOW_LOOPBACK`` is set (tests, local demos) and nothing else
  ever is.
- ``post_json`` resolves once, checks every address again, then connects to the checked IP itself:
  the socket is opened on that address without a second DNS lookup, so a name that re-binds to
  an internal address between check and connect (DNS rebinding) cannot redirect the request. TLS
  still verifies the certificate against the original host name (SNI + hostname check).
- No redirects, no retries, a timeout on connect and on the whole exchange, and at most
  ``QUORUM_OUTBOUND_MAX_RESPONSE_BYTES`` of the response body are read.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.timeout import Timeout

from core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_NUMERIC_HOST_CHARS = frozenset("0123456789abcdefx.")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_EXCERPT_CHARS = 500
_READ_CHUNK = 16 * 1024


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed the syntax checks, and (after resolution) the addresses it points at."""

    scheme: str  # "http" or "https"
    host: str  # lower-case, IDNA-encoded; an IPv6 literal without brackets
    port: int
    path: str  # path and query, percent-encoded; "/" at least
    host_header: str  # the ``Host`` header: host, plus ":port" when it is not the default
    addresses: tuple[str, ...] = ()  # the checked addresses, in resolver order


@dataclass(frozen=True)
class OutboundResult:
    """What happened to one request. ``status_code`` is None when no response was received;
    ``error`` is then ``"<kind>: <detail>"`` with kind one of invalid_url, forbidden_target,
    dns_error, connection_failed, timeout, tls_error, protocol_error."""

    status_code: int | None
    error: str
    duration_ms: int
    response_excerpt: str = ""
    bytes_read: int = 0
    truncated: bool = False  # the body was longer than the cap (or cut off by the deadline)
    retry_after_seconds: int | None = None  # from a ``Retry-After`` header, if any

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# -- validation -----------------------------------------------------------------------------------


def parse_url(url: str) -> ParsedTarget:
    """Check the syntax of ``url`` (no DNS). Raise ``ValidationFailed(code="invalid_url")``."""
    if not isinstance(url, str) or not url:
        raise _invalid("A URL is required.")
    if len(url) > 2000:
        raise _invalid("The URL is longer than 2000 characters.")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url) or "\\" in url:
        raise _invalid("The URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"The URL cannot be parsed: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _invalid("Only http and https URLs are accepted.")
    if "@" in parts.netloc:
        raise _invalid("The URL must not contain a user name or password.")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise _invalid("The URL has no host.")
    host = _normalize_host(raw_host)
    if port == 0:
        raise _invalid("The URL port must be between 1 and 65535.")
    default_port = _DEFAULT_PORTS[scheme]
    port = port or default_port
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return ParsedTarget(scheme=scheme, host=host, port=port, path=path, host_header=host_header)


def resolve(target: ParsedTarget) -> ParsedTarget:
    """Resolve ``target.host`` once and check every address; return the target with them.

    Raise ``ValidationFailed``: ``invalid_url`` when the name does not resolve, and
    ``forbidden_target`` when ANY address is not allowed (one bad record taints the name: a
    resolver may hand out the records in any order).
    """
    allow_loopback = bool(settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationFailed(
            f"The host {target.host!r} does not resolve.", code="invalid_url", details={"reason": "dns"}
        ) from exc
    addresses: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise _forbidden(target.host, str(sockaddr))
        ip = _canonical(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        if not _ip_allowed(ip, allow_loopback=allow_loopback):
            raise _forbidden(target.host, str(ip))
        if str(ip) not in addresses:
            addresses.append(str(ip))
    if not addresses:
        raise ValidationFailed(f"The host {target.host!r} does not resolve.", code="invalid_url")
    return ParsedTarget(
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        path=target.path,
        host_header=target.host_header,
        addresses=tuple(addresses),
    )


def check_url(url: str) -> ParsedTarget:
    """Accept ``url`` for later sending, without any I/O: the syntax of ``parse_url``, and, when
    the host is an address literal (any form the resolver would read as one, e.g. ``127.1`` or
    ``0x7f000001``) or a ``localhost`` name, that address is allowed. A name is never resolved
    here; ``post_json`` resolves it and applies the address policy at every send.

    Raise ``ValidationFailed`` (``invalid_url`` or ``forbidden_target``)."""
    target = parse_url(url)
    allow_loopback = bool(settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK)
    host = target.host.removesuffix(".")  # "127.0.0.1." and "localhost." are absolute forms of the same
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        if not allow_loopback:
            raise _forbidden(host, "127.0.0.1")
        return target
    ip = literal_address(host)
    if ip is not None and not _ip_allowed(ip, allow_loopback=allow_loopback):
        raise _forbidden(host, str(_canonical(ip)))
    return target


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is an address literal rather than a name: IPv6, dotted
    IPv4, and the legacy numeric forms ``inet_aton`` (and so the resolver) accepts (``127.1``,
    ``2130706433``, ``0x7f.0.0.1``). None for a name. No I/O."""
    if ":" in host:
        return ipaddress.IPv6Address(host)
    host = host.removesuffix(".")  # the resolver reads "127.0.0.1." as 127.0.0.1
    if not set(host) <= _NUMERIC_HOST_CHARS:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None  # e.g. 1.2.3.4.5: not an address; a name, resolved (and refused) at send time


def validate_url(url: str) -> ParsedTarget:
    """Parse ``url`` and resolve it; raise ``ValidationFailed`` (``invalid_url`` or
    ``forbidden_target``) unless it is an http(s) URL whose every address is allowed.

    ``post_json`` runs it at every send (a URL valid today may resolve elsewhere tomorrow). Not
    for accepting a URL: use ``check_url``, which never does DNS.
    """
    return resolve(parse_url(url))


def _normalize_host(raw_host: str) -> str:
    host = raw_host.lower()
    if ":" in host:  # an IPv6 literal (urlsplit already removed the brackets)
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise _invalid("The URL has an invalid IPv6 address.") from exc
        if "%" in host:
            raise _invalid("IPv6 zone identifiers are not accepted.")
        return host
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _invalid("The URL host is not a valid domain name.") from exc
    if not set(host) <= _HOST_CHARS or host.startswith(".") or ".." in host:
        raise _invalid("The URL host is not a valid domain name.")
    return host


def _canonical(ip: IPAddress) -> IPAddress:
    """``::ffff:a.b.c.d`` is the IPv4 address a.b.c.d; judge (and connect to) that."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _ip_allowed(ip: IPAddress, *, allow_loopback: bool) -> bool:
    ip = _canonical(ip)
    if ip.is_loopback:
        return allow_loopback
    # is_global alone is not enough: Python counts multicast and some reserved IPv6 ranges
    # (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96) as global.
    if (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_private
        or ip.is_link_local
        or ip.is_unspecified
    ):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        if ip.sixtofour is not None:  # 2002::/16 carries an IPv4 address: judge that too
            return _ip_allowed(ip.sixtofour, allow_loopback=False)
    return True


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_url")


def _forbidden(host: str, address: str) -> ValidationFailed:
    return ValidationFailed(
        f"The host {host!r} resolves to {address}, which is not a public address.",
        code="forbidden_target",
        details={"host": host, "address": address},
    )


# -- sending --------------------------------------------------------------------------------------


def post_json(url: str, body: bytes, headers: dict[str, str]) -> OutboundResult:
    """POST ``body`` to ``url`` through the SSRF guard. Never raises on network errors.

    Redirects are not followed (a 3xx is returned as its status), nothing is retried, and the
    whole exchange is bounded by ``QUORUM_OUTBOUND_TIMEOUT_SECONDS``.
    """
    started = time.monotonic()
    timeout = float(settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS)
    deadline = started + timeout
    try:
        target = resolve(parse_url(url))
    except ValidationFailed as exc:
        kind = "dns_error" if (exc.details or {}).get("reason") == "dns" else exc.code
        return _failure(kind, exc.message, started)

    request_headers = {key: value for key, value in headers.items() if key.lower() != "host"}
    request_headers["Host"] = target.host_header
    last_failure: OutboundResult | None = None
    for address in target.addresses:
        # Fall back to the next address only when the connection could not be opened at all:
        # once bytes were sent, a retry could deliver the message twice.
        result = _post_to_address(
            target, ipaddress.ip_address(address), body, request_headers, started, deadline
        )
        if result.status_code is not None or not result.error.startswith("connection_failed"):
            return result
        last_failure = result
        if time.monotonic() >= deadline:
            break
    assert last_failure is not None
    return last_failure


def get(url: str, *, max_bytes: int, headers: dict[str, str] | None = None) -> tuple[OutboundResult, bytes]:
    """GET ``url`` through the same guard as ``post_json`` (resolved once, every address checked,
    connected to the checked address, no redirects, the overall timeout) and return the result
    with at most ``max_bytes`` of the body: for checks on client-supplied files (an attachment's
    first bytes), never to download a whole file. Never raises on network errors."""
    started = time.monotonic()
    deadline = started + float(settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS)
    try:
        target = resolve(parse_url(url))
    except ValidationFailed as exc:
        kind = "dns_error" if (exc.details or {}).get("reason") == "dns" else exc.code
        return _failure(kind, exc.message, started), b""
    request_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    request_headers["Host"] = target.host_header
    body_out: list[bytes] = []
    result = _failure("connection_failed", "no address", started)
    for address in target.addresses:
        result = _post_to_address(
            target,
            ipaddress.ip_address(address),
            None,
            request_headers,
            started,
            deadline,
            method="GET",
            cap=max_bytes,
            sink=body_out,
        )
        if result.status_code is not None or not result.error.startswith("connection_failed"):
            break
        if time.monotonic() >= deadline:
            break
    return result, b"".join(body_out)


def _post_to_address(
    target: ParsedTarget,
    ip: IPAddress,
    body: bytes | None,
    headers: dict[str, str],
    started: float,
    deadline: float,
    *,
    method: str = "POST",
    cap: int | None = None,
    sink: list[bytes] | None = None,
) -> OutboundResult:
    remaining = max(deadline - time.monotonic(), 0.001)
    watchdog = _Watchdog(deadline)
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = _PinnedHTTPSConnectionPool(
            host=str(ip),
            port=target.port,
            pinned_ip=ip,
            watchdog=watchdog,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = _PinnedHTTPConnectionPool(
            host=str(ip), port=target.port, pinned_ip=ip, watchdog=watchdog, maxsize=1, retries=False
        )
    response = None
    try:
        response = pool.urlopen(
            method,
            target.path,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            timeout=Timeout(connect=remaining, read=remaining),
        )
        status = response.status
        retry_after = _retry_after_seconds(response.headers.get("retry-after"))
        data, truncated = _read_capped(
            response, int(settings.QUORUM_OUTBOUND_MAX_RESPONSE_BYTES if cap is None else cap)
        )
        if sink is not None:
            sink.append(data)
        return OutboundResult(
            status_code=status,
            error="",
            duration_ms=_elapsed_ms(started),
            response_excerpt=data[: _EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:_EXCERPT_CHARS],
            bytes_read=len(data),
            truncated=truncated or watchdog.fired,
            retry_after_seconds=retry_after,
        )
    except urllib3.exceptions.HTTPError as exc:
        return _failure(_error_kind(exc, watchdog), f"{type(exc).__name__}: {exc}", started)
    except OSError as exc:
        return _failure(
            "timeout" if watchdog.fired else "connection_failed", f"{type(exc).__name__}: {exc}", started
        )
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()  # never returned to a pool: unread data may follow
        pool.close()


def _read_capped(response, cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes of the body; a body cut short after the status line arrived
    leaves the status valid (the receiver has answered), so read errors end the read quietly."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total < cap:
            chunk = response.read(min(_READ_CHUNK, cap - total), decode_content=False)
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            total += len(chunk)
        # At the cap: is there more? One more byte tells; never read the rest.
        more = response.read(1, decode_content=False)
        return b"".join(chunks), bool(more)
    except (urllib3.exceptions.HTTPError, OSError):
        return b"".join(chunks), True


def _retry_after_seconds(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(int(when.timestamp() - time.time()), 0)


def _error_kind(exc: Exception, watchdog: _Watchdog) -> str:
    if watchdog.fired or (
        isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(exc, NewConnectionError)
    ):
        return "timeout"
    if isinstance(exc, NewConnectionError):
        return "connection_failed"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "tls_error"
    return "protocol_error"


def _failure(kind: str, detail: str, started: float) -> OutboundResult:
    return OutboundResult(status_code=None, error=f"{kind}: {detail}"[:500], duration_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class _Watchdog:
    """Shuts the socket down when the overall deadline passes.

    Socket timeouts bound each read, not the exchange: a receiver dripping one byte every few
    seconds would otherwise hold a worker for hours. ``shutdown()`` from this timer thread wakes
    the blocked read (plain or TLS) with an end-of-stream.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def arm(self, sock: socket.socket) -> None:
        with self._lock:
            self._timer = threading.Timer(
                max(self.deadline - time.monotonic(), 0.0), self._fire, args=(sock,)
            )
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: the request finished as the timer fired


class _PinnedConnectionMixin:
    """Connect to the pool's checked IP directly: no name resolution happens here at all."""

    pinned_ip: IPAddress | None = None
    watchdog: _Watchdog | None = None

    def _new_conn(self) -> socket.socket:
        if self.pinned_ip is None or self.watchdog is None:
            raise NewConnectionError(self, "refusing to connect: no checked address was pinned")
        family = socket.AF_INET6 if self.pinned_ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            if isinstance(self.timeout, (int, float)):
                sock.settimeout(self.timeout)
            sock.connect((str(self.pinned_ip), self.port))
        except TimeoutError as exc:  # socket.timeout
            sock.close()
            raise ConnectTimeoutError(self, f"Connection to {self.pinned_ip} timed out.") from exc
        except OSError as exc:
            sock.close()
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
        self.watchdog.arm(sock)
        return sock


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedPoolMixin:
    def __init__(self, *args, pinned_ip: IPAddress, watchdog: _Watchdog, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pinned_ip = pinned_ip
        self.watchdog = watchdog

    def _new_conn(self):
        conn = super()._new_conn()
        conn.pinned_ip = self.pinned_ip
        conn.watchdog = self.watchdog
        return conn


class _PinnedHTTPConnectionPool(_PinnedPoolMixin, urllib3.HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(_PinnedPoolMixin, urllib3.HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection

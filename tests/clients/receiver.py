"""A scriptable HTTP receiver on 127.0.0.1 for webhook, callback and SSRF tests.

    with Receiver(responses=[Reply(status=500), Reply(status=200)]) as receiver:
        ...  # send to receiver.url
        assert receiver.wait_for(2, timeout=5)
        first = receiver.requests[0]  # RecordedRequest(method, path, headers, body)

Each request takes the next ``Reply`` from ``responses`` (a script, one per attempt); when the
script is used up, ``default`` answers. ``connections`` counts accepted TCP connections, even ones
that never send a request (a canary for SSRF tests: it must stay 0).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering
    body_size: int = 0  # if set, send this many bytes of b"x" instead of ``body`` (large bodies)
    drip_interval: float = 0.0  # if set, send the body one byte at a time with this pause


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Receiver:
    def __init__(self, responses: list[Reply] | None = None, default: Reply | None = None) -> None:
        self.responses: list[Reply] = list(responses or [])
        self.default = default or Reply()
        self._requests: list[RecordedRequest] = []
        self._connections = 0
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what the test reads --

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def port(self) -> int:
        assert self._server is not None, "use the Receiver as a context manager"
        return self._server.server_address[1]

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def wait_for(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` requests arrived; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._requests) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    # -- lifecycle --

    def __enter__(self) -> Receiver:
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="receiver", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closing.set()  # wakes handlers sleeping in a delay or a drip
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- called by the handler threads --

    def _record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            reply = self.responses.pop(0) if self.responses else self.default
            self._lock.notify_all()
            return reply

    def _count_connection(self) -> None:
        with self._lock:
            self._connections += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        self.receiver._count_connection()
        return True

    def handle_error(self, request, client_address) -> None:
        pass  # the client hung up (timeouts, size caps): expected in these tests


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    def _handle(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = receiver._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
        )
        if reply.delay and receiver._closing.wait(reply.delay):
            return
        payload_size = reply.body_size or len(reply.body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(payload_size))
        self.end_headers()
        try:
            if reply.drip_interval:
                for _ in range(payload_size):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if receiver._closing.wait(reply.drip_interval):
                        return
            elif reply.body_size:
                chunk = b"x" * 65536
                sent = 0
                while sent < payload_size and not receiver._closing.is_set():
                    piece = chunk[: payload_size - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
            else:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: that is what size-cap tests check

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle

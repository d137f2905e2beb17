"""A throttling peer for tests and benchmarks: an HTTP proxy in front of the moto server that
answers AWS's own `Throttling` error past N mutating IAM calls per second.

IAM's query protocol names the operation in the form body (`Action=CreateUser&...`). Reads
(Get*, List*, Simulate*) always pass, as the portal's pacer assumes; mutating calls pass while
a token bucket of N per second (holding up to `burst`, one second's worth by default) has a
token, and are otherwise refused as AWS refuses them: HTTP 400 with a Sender `Throttling`
error. The proxy counts what it passed and refused, and when, so a run can say what rate it
sustained and how many retries the throttle cost.

    with ThrottleProxy(moto_url, rate=10) as proxy:
        ... point AWS_ENDPOINT_URL at proxy.url ...
        proxy.passed_mutating, proxy.throttled, proxy.sustained_rate()

`latency` holds each call that long before it goes on, as an IAM endpoint far away answers
(a large `rate` leaves only that); `spans` records each passed call's (action, start, end),
so a test can see which calls were in flight at the same time.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_READ_PREFIXES = ("Get", "List", "Simulate")

THROTTLING_BODY = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)


# Seconds a proxy holds each IAM call when the benches put IAM a network away, as AWS is.
FAR_LATENCY = 0.06


def far_iam(upstream: str, latency: float = FAR_LATENCY) -> ThrottleProxy:
    """A proxy that throttles nothing and holds each call `latency`: IAM far away."""
    return ThrottleProxy(upstream, rate=1e9, burst=1e9, latency=latency)


class ThrottleProxy:
    def __init__(
        self, upstream: str, *, rate: float, burst: float | None = None, latency: float = 0.0
    ) -> None:
        target = urllib.parse.urlparse(upstream)
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 80
        self.rate = rate
        self.latency = latency
        self.spans: list[tuple[str, float, float]] = []
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._at = time.monotonic()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.passed_mutating = 0
        self.throttled = 0
        self.passed_reads = 0
        self.mutating_times: list[float] = []
        self.operations: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ThrottleProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.passed_mutating = self.throttled = self.passed_reads = 0
            self.mutating_times = []
            self.operations = {}
            self.spans = []

    def sustained_rate(self) -> float:
        """Mutating calls per second passed, from the first to the last one."""
        times = self.mutating_times
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def busiest_second(self) -> int:
        """The most mutating calls passed in any one-second window."""
        times, most, start = self.mutating_times, 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    def _admit(self, action: str) -> bool:
        with self._lock:
            if not action or action.startswith(_READ_PREFIXES):
                self.passed_reads += 1
                return True
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                self.throttled += 1
                return False
            self._tokens -= 1
            self.operations[action] = self.operations.get(action, 0) + 1
            self.passed_mutating += 1
            self.mutating_times.append(now)
            return True

    def _forward(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        connection = getattr(self._local, "connection", None)
        for attempt in (1, 2):
            if connection is None:
                connection = http.client.HTTPConnection(
                    self.upstream_host, self.upstream_port, timeout=60
                )
                self._local.connection = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                connection = self._local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go out in two writes: with Nagle's algorithm the body
            # waits for the client's delayed ACK of the headers, 40 ms on every call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
                if not action:
                    query = urllib.parse.urlparse(self.path).query
                    action = urllib.parse.parse_qs(query).get("Action", [""])[0]
                if not proxy._admit(action):
                    answer = THROTTLING_BODY.format(request_id=f"throttled-{time.monotonic_ns()}")
                    self._answer(400, [("Content-Type", "text/xml")], answer.encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                started = time.monotonic()
                time.sleep(proxy.latency)
                status, response_headers, data = proxy._forward(
                    self.command, self.path, body, headers
                )
                with proxy._lock:
                    proxy.spans.append((action, started, time.monotonic()))
                kept = [
                    (k, v)
                    for k, v in response_headers
                    if k.lower() not in {"connection", "content-length", "transfer-encoding"}
                ]
                self._answer(status, kept, data)

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        return Handler

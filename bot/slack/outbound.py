"""Outbound HTTP with a deadline for the whole call: every httpx call Baton makes while it holds
a job or an answer (an action's webhook, the external pagers, Prometheus) goes through client().

httpx's timeouts are per operation: the connect, each write, each read. A server that sends one
byte every 2 s never trips a 10 s read timeout, and holds the call, its job and a worker of the
ticker's pool for as long as it likes: past the job's lease, when another replica takes the job
over and the webhook is called a second time while the first call is still open. httpx has no
total timeout, so the client made here gets one: each request, answer read, ends within `total`
seconds, however the server dribbles.

How: the client's transports get a network backend whose every connect, TLS handshake, write
and read waits at most what is left of the current request's deadline (and raises httpx's own
timeout once nothing is left); an event hook starts the deadline when each request is sent. A
client is used by one thread at a time, one request after the other, as Baton's are. DNS
resolution happens inside the connect and is not cut short by it (the socket module cannot).
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpcore
    import httpx

# A request may ask for less than the client's total (Prometheus: what is left of a digest's
# budget): extensions=within(seconds).
_EXTENSION = "baton.deadline"
_CHUNK = 16 * 1024  # bytes written per send, so a server that reads slowly cannot stretch a write


def within(seconds: float) -> dict[str, Any]:
    """Request extensions for a request that must end sooner than the client's total."""
    return {_EXTENSION: seconds}


class _Deadline:
    """The current request's deadline on the monotonic clock."""

    def __init__(self, total: float) -> None:
        self.total = total
        self.at: float | None = None

    def start(self, request: httpx.Request) -> None:
        seconds = min(self.total, float(request.extensions.get(_EXTENSION, self.total)))
        self.at = time.monotonic() + seconds

    def left(self, timeout: float | None, late: type[Exception]) -> float | None:
        """The wait for one operation: its own timeout, or less if the deadline comes first."""
        if self.at is None:
            return timeout
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise late(f"the deadline of {self.total:g} s for the whole call passed")
        return remaining if timeout is None else min(timeout, remaining)


@functools.cache
def _classes() -> tuple[type[httpcore.NetworkStream], type[httpcore.NetworkBackend]]:
    """The stream and backend wrappers, made at the first call (httpcore is loaded with httpx)."""
    import httpcore

    class Stream(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
            self._inner, self._deadline = inner, deadline

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            for start in range(0, len(buffer), _CHUNK):
                chunk = buffer[start : start + _CHUNK]
                self._inner.write(chunk, self._deadline.left(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> httpcore.NetworkStream:
            wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
            return Stream(self._inner.start_tls(ssl_context, server_hostname, wait), self._deadline)

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def __init__(self, inner: httpcore.NetworkBackend, deadline: _Deadline) -> None:
            self._inner, self._deadline = inner, deadline

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
            inner = self._inner.connect_tcp(host, port, wait, local_address, socket_options)
            return Stream(inner, self._deadline)

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.NetworkStream:
            wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
            return Stream(self._inner.connect_unix_socket(path, wait, socket_options), self._deadline)

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    return Stream, Backend


def _arm(transport: object, deadline: _Deadline) -> None:
    """Give one of the client's transports the deadline's network backend."""
    import httpx

    if not isinstance(transport, httpx.HTTPTransport):
        return  # a test's MockTransport: no network to wait for
    # httpx lets a transport's pool take a network backend but offers no way to pass one in:
    # this sets it on the pool httpx built. Should httpx or httpcore rename these, this fails
    # loudly here rather than leave the calls without their deadline.
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if inner is None:
        raise RuntimeError("httpx's transport has no network backend to give a deadline to")
    backend = _classes()[1]
    pool._network_backend = backend(inner, deadline)  # type: ignore[call-arg,union-attr]


def client(*, total: float, **kwargs: Any) -> httpx.Client:
    """An httpx.Client whose every request ends within `total` seconds, start to finish (the
    answer read, for a streamed one too). Timeouts given in `timeout` still apply to each
    operation; by default each may take the whole deadline. Otherwise as httpx.Client(**kwargs),
    proxies from the environment included."""
    import httpx

    deadline = _Deadline(total)
    kwargs.setdefault("timeout", httpx.Timeout(total))
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["request"] = [deadline.start, *hooks.get("request", [])]
    made = httpx.Client(event_hooks=hooks, **kwargs)
    for transport in (made._transport, *made._mounts.values()):
        _arm(transport, deadline)
    return made

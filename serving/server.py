"""How uvicorn runs the model service: a deadline to send a request, and a cap on open connections.

uvicorn bounds the idle time *between* requests (``timeout_keep_alive``) and, with
``limit_concurrency``, the connections it serves (past the cap a new request gets 503), but nothing
bounds the time a client takes to send one request: its keep-alive timer is cancelled by every
byte received, and an ASGI middleware runs only once the headers are complete. A client trickling
headers or a body a byte at a time holds its connection for ever (uvicorn issue #157, "timeout
request start / complete", still open). So the HTTP protocol here is uvicorn's own (httptools)
with one addition: from the first byte of a request (or the connection's opening) to its last
byte, ``DRIFTGATE_READ_TIMEOUT_S``; past it the client gets 408 (when no answer had begun) and
the connection is closed. The deadline stops as soon as the request is complete, so a slow model
or a long response is never cut by it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from driftgate.settings import Settings

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b'{"status_code":408,"detail":"the request was not sent in time","errors":[]}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for receiving each whole request."""

    read_timeout: float = 15.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and says nothing is cut too

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:  # the first byte of a request: its clock starts
            self._arm()
        super().data_received(data)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("cut %s: no whole request within %.3g s", client, self.read_timeout)
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def deadline_protocol(read_timeout: float) -> type[DeadlineHttpProtocol]:
    """The protocol class with this deadline (uvicorn builds one protocol object per connection)."""
    return type("DeadlineHttpProtocol", (DeadlineHttpProtocol,), {"read_timeout": read_timeout})


def server_options(settings: Settings) -> dict[str, Any]:
    """The ``uvicorn.Config`` arguments of the model service (beside app, host, port and logging).

    >>> sorted(server_options(Settings()))
    ['http', 'limit_concurrency', 'timeout_keep_alive']
    """
    return {
        "http": deadline_protocol(settings.read_timeout_s),
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": 5,  # uvicorn's default, said here: idle keep-alive connections close after 5 s
    }

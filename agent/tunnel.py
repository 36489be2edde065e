"""The agent's end of the tunnel: connect out to the relay, serve its streams, reconnect.

A rig behind NAT opens one WebSocket to the relay and keeps it: it trades its node token
for a short-lived JWT, says hello (what it serves), then serves the requests the relay
multiplexes over the socket, each in a task of its own, sending heartbeats meanwhile. When
the socket drops it reconnects with exponential backoff. This module only moves bytes: the
messages and their framing are :mod:`relay.protocol`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp

from agent.endpoints import backoff_delay, relay_endpoints
from agent.forward import Forwarder
from agent.outbox import Outbox
from agent.streams import StreamSink, StreamState
from relay.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    Drain,
    Heartbeat,
    Hello,
    HelloAck,
    Inventory,
    ModelEntry,
    OpenStream,
    ProtocolError,
    SendCredit,
    Window,
    decode,
    encode,
)

log = logging.getLogger(__name__)

AGENT_VERSION = "0.1.0"
HELLO_ACK_TIMEOUT_S = 10.0


class FatalTunnelError(Exception):
    """Retrying cannot help (the relay refused the node token): the agent must stop."""


class TunnelClient:
    """Keeps this node connected to its relay. ``await run()``; ``stop()`` drains and ends it."""

    def __init__(
        self,
        *,
        relay_url: str,
        token: str,
        node_name: str,
        forwarder: Forwarder,
        http: aiohttp.ClientSession,
        inventory: Callable[[], tuple[list[ModelEntry], list[dict[str, Any]]]],
        gpus: Callable[[], list[dict[str, Any]] | None] = lambda: None,
        max_concurrency: int = 8,
        heartbeat_interval_s: float = 5.0,
        drain_timeout_s: float = 30.0,
        insecure: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoints = relay_endpoints(relay_url, insecure=insecure)
        self._token = token
        self._node_name = node_name
        self._forwarder = forwarder
        self._http = http
        self._inventory = inventory
        self._gpus = gpus
        self._max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._heartbeat_interval = heartbeat_interval_s
        self._drain_timeout = drain_timeout_s
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._streams: dict[int, StreamState] = {}
        self._outbox: Outbox | None = None
        self._stopping = asyncio.Event()
        self._draining = False
        self.connected = asyncio.Event()
        self.max_message_bytes = 16 * 1024 * 1024
        self.node_id: str | None = None
        self.last_close: tuple[int | None, str] | None = None

    # -- public ---------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._streams)

    def stop(self) -> None:
        """Begin a graceful stop: no new requests, in-flight ones finish (up to the drain
        timeout), then ``run()`` returns. Safe to call from a signal handler."""
        self._stopping.set()

    async def send_inventory(self) -> None:
        """Tell the relay now that models or backends changed (not at the next heartbeat)."""
        if self._outbox is not None:
            models, backends = self._inventory()
            self._outbox.put(encode(Inventory(tuple(models), tuple(backends))))

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff, until :meth:`stop`.

        Raises :class:`FatalTunnelError` when the relay refuses the node token.
        """
        attempt = 0
        while not self._stopping.is_set():
            try:
                served = await self._connect_and_serve()
            except FatalTunnelError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, ProtocolError) as exc:
                log.warning("cannot reach the relay (%s: %s)", type(exc).__name__, exc)
                served = False
            if self._stopping.is_set():
                break
            attempt = 0 if served else attempt + 1
            delay = backoff_delay(attempt)
            log.info("reconnecting in %.1f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    # -- one connection ---------------------------------------------------------------

    async def _exchange_token(self) -> str:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._http.post(
            self.endpoints.token_url, headers=headers, ssl=self._ssl
        ) as response:
            if response.status == 401:
                message = "the relay refused this node's token"
                with contextlib.suppress(Exception):
                    message += ": " + (await response.json())["error"]["message"]
                raise FatalTunnelError(message)
            if response.status != 200:
                raise aiohttp.ClientResponseError(
                    response.request_info,
                    (),
                    status=response.status,
                    message="token exchange failed",
                )
            token: str = (await response.json())["token"]
            return token

    async def _connect_and_serve(self) -> bool:
        """One connection's life. True if the relay accepted us (resets the backoff)."""
        jwt = await self._exchange_token()
        async with self._http.ws_connect(
            self.endpoints.tunnel_url,
            headers={"Authorization": f"Bearer {jwt}"},
            ssl=self._ssl,
            max_msg_size=self.max_message_bytes,
            autoping=True,
        ) as ws:
            models, backends = self._inventory()
            await ws.send_bytes(
                encode(
                    Hello(
                        protocol_version=PROTOCOL_VERSION,
                        agent_version=AGENT_VERSION,
                        node_name=self._node_name,
                        models=tuple(models),
                        backends=tuple(backends),
                        gpus=tuple(self._gpus() or ()),
                        max_concurrency=self._max_concurrency,
                    )
                )
            )
            first = await ws.receive(timeout=HELLO_ACK_TIMEOUT_S)
            if first.type != aiohttp.WSMsgType.BINARY:
                self._log_close(ws, first)
                return False
            ack = decode(first.data)
            if not isinstance(ack, HelloAck):
                raise ProtocolError("the relay did not answer hello with hello_ack")
            self.node_id = ack.node_id
            self.max_message_bytes = ack.max_message_bytes
            self._window = ack.window_bytes
            interval = min(self._heartbeat_interval, ack.heartbeat_interval_s)
            log.info("connected to the relay as node %s", ack.node_id)
            outbox = self._outbox = Outbox(ws.send_bytes, ack.max_message_bytes)
            outbox.start()
            self.connected.set()
            heartbeat = asyncio.create_task(self._heartbeats(outbox, interval))
            stopper = asyncio.create_task(self._drain_on_stop(ws, outbox))
            try:
                await self._receive_loop(outbox, ws)
            finally:
                heartbeat.cancel()
                stopper.cancel()
                self._outbox = None
                self.connected.clear()
                self._abort_streams()
                await outbox.stop()
            self._log_close(ws, None)
            return True

    def _log_close(
        self, ws: aiohttp.ClientWebSocketResponse, msg: aiohttp.WSMessage | None
    ) -> None:
        code = ws.close_code
        reason = ""
        if msg is not None and msg.type == aiohttp.WSMsgType.CLOSE:
            code, reason = msg.data, msg.extra or ""
        elif ws.exception() is not None:
            reason = str(ws.exception())
        self.last_close = (code, reason)
        if self._stopping.is_set():
            return
        log.warning(
            "the relay closed the tunnel (code %s%s)", code, f": {reason}" if reason else ""
        )

    async def _receive_loop(self, outbox: Outbox, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    if msg.type == aiohttp.WSMsgType.CLOSE:
                        self.last_close = (msg.data, msg.extra or "")
                        if not self._stopping.is_set():
                            log.warning(
                                "the relay closed the tunnel (code %s: %s)",
                                msg.data,
                                msg.extra or "",
                            )
                    return
                continue
            message = decode(msg.data, max_bytes=self.max_message_bytes)
            if isinstance(message, OpenStream):
                self._open(outbox, message)
            elif isinstance(message, Window):
                state = self._streams.get(message.stream)
                if state is not None:
                    state.grant(message.increment)
            elif isinstance(message, Cancel):
                state = self._streams.pop(message.stream, None)
                if state is not None and state.task is not None:
                    state.task.cancel()
            elif isinstance(message, Drain):
                log.info("the relay asked this node to drain: %s", message.reason)
                self._draining = True

    def _open(self, outbox: Outbox, request: OpenStream) -> None:
        state = StreamState(task=None, credit=SendCredit(self._window))
        sink = StreamSink(outbox, request.stream, state, self.max_message_bytes)
        refusal = None
        if self._draining or self._stopping.is_set():
            refusal = (503, "This node is shutting down.", "node_draining")
        self._streams[request.stream] = state
        state.task = asyncio.create_task(self._serve(request, sink, refusal))

    async def _serve(
        self, request: OpenStream, sink: StreamSink, refusal: tuple[int, str, str] | None
    ) -> None:
        try:
            if refusal is not None:
                await sink.error(*refusal)
            else:
                # Past max_concurrency requests wait here, in arrival order, rather than
                # fail: the relay's scheduler avoids busy nodes, and a burst beyond every
                # node's capacity is better served late than refused.
                async with self._slots:
                    await self._forwarder.forward(request, sink)
        except asyncio.CancelledError:
            log.debug("stream %d cancelled by the relay", request.stream)
        except Exception as exc:  # the socket went away mid-answer; nothing left to tell
            log.debug("stream %d ended early: %s", request.stream, type(exc).__name__)
        finally:
            self._streams.pop(request.stream, None)

    def _abort_streams(self) -> None:
        streams, self._streams = self._streams, {}
        for state in streams.values():
            if state.task is not None:
                state.task.cancel()

    async def _heartbeats(self, outbox: Outbox, interval: float) -> None:
        while True:
            gpus = self._gpus()
            heartbeat = Heartbeat(len(self._streams), tuple(gpus) if gpus is not None else None)
            outbox.put(encode(heartbeat))
            await asyncio.sleep(interval)

    async def _drain_on_stop(self, ws: aiohttp.ClientWebSocketResponse, outbox: Outbox) -> None:
        await self._stopping.wait()
        self._draining = True
        log.info("draining: %d requests in flight", len(self._streams))
        outbox.put(encode(Drain("agent stopping")))
        tasks = [s.task for s in self._streams.values() if s.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._drain_timeout)
            if pending:
                log.warning("drain timeout: abandoning %d requests", len(pending))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(outbox.flush(), 5)
        await ws.close(code=1000, message=b"agent stopped")

"""The console's admin-API client: one WebSocket kept open, plus REST. No Textual here.

:meth:`AdminClient.events` connects to ``/admin/ws`` with the admin token in the
``Authorization`` header, yields what happens (:class:`Connecting`, :class:`Connected`,
:class:`Received` for each snapshot/update frame, :class:`Disconnected`) and reconnects by
itself with backoff when the relay restarts or the network drops. It gives up only when
the relay refuses the token (401/403): then the last event is a :class:`Disconnected`
with ``retry_in=None`` and the relay's own words as its reason.

:meth:`AdminClient.command` sends a command over the open socket and awaits its result;
failures raise :class:`AdminApiError` whose message is fit to show a person.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 5.0


class AdminApiError(Exception):
    """The relay refused a request, or could not be reached; ``str()`` says why in words."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Connecting:
    url: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Connected:
    url: str


@dataclass(frozen=True, slots=True)
class Received:
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    retry_in: float | None  # None: the client gave up (the token was refused)


ClientEvent = Connecting | Connected | Received | Disconnected


def admin_urls(relay_url: str) -> tuple[str, str]:
    """``(websocket URL, REST base URL)`` of a relay's admin API from its base URL."""
    parts = urlsplit(relay_url)
    base = parts.path.rstrip("/")
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    ws = urlunsplit((ws_scheme, parts.netloc, base + "/admin/ws", "", ""))
    rest = urlunsplit((parts.scheme, parts.netloc, base + "/admin/api", "", ""))
    return ws, rest


def retry_delay(attempt: int) -> float:
    """0.5 s doubling to 5 s, with jitter: quick after a relay restart, gentle after."""
    return min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


def _error_message(body: Any, status: int) -> tuple[str, str | None]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("message") or f"HTTP {status}"), error.get("code")
    return f"The relay answered HTTP {status}.", None


class AdminClient:
    """Talks to one relay's admin API. Use from one event loop; close with :meth:`close`."""

    def __init__(self, relay_url: str, token: str, *, timeout_s: float = 15.0) -> None:
        self.relay_url = relay_url.rstrip("/")
        self.ws_url, self.rest_url = admin_urls(self.relay_url)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._close_reason = ""

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout)
            )
        return self._session

    async def close(self) -> None:
        """Close the socket and the HTTP session (safe to call twice)."""
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    # -- the socket ------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ClientEvent]:
        """Connect and yield events forever, reconnecting; safe to cancel at any await."""
        attempt = 0
        while True:
            attempt += 1
            yield Connecting(self.ws_url, attempt)
            try:
                ws = await self._http().ws_connect(
                    self.ws_url, headers=self._headers, heartbeat=20, max_msg_size=64 << 20
                )
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    reason = await self._refusal(exc.status)
                    yield Disconnected(reason, None)
                    return
                reason = f"The relay refused the connection (HTTP {exc.status})."
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = f"Cannot reach the relay at {self.relay_url} ({_why(exc)})."
            else:
                attempt = 0
                self._ws = ws
                yield Connected(self.ws_url)
                try:
                    async for event in self._read(ws):
                        yield event
                finally:
                    self._ws = None
                    self._fail_pending()
                    await ws.close()
                if ws.close_code in (CLOSE_TOKEN_EXPIRED, CLOSE_FORBIDDEN):
                    yield Disconnected(self._close_reason or "The relay closed the session.", None)
                    return
                why = f" ({self._close_reason})" if self._close_reason else ""
                reason = f"The relay closed the connection{why}."
            delay = retry_delay(max(attempt, 1))
            yield Disconnected(reason, delay)
            await asyncio.sleep(delay)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Received]:
        self._close_reason = ""
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.CLOSE:
                self._close_reason = str(msg.extra or "")
                return
            if msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return
            if msg.type == aiohttp.WSMsgType.ERROR:
                self._close_reason = _why(msg.data) if isinstance(msg.data, Exception) else ""
                return
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = msg.json()
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            if data.get("type") == "result":
                self._resolve(data)
            else:
                yield Received(data)

    async def _refusal(self, status: int) -> str:
        """The relay's words for a refused handshake (asked again over REST)."""
        try:
            await self.request("GET", "/me")
        except AdminApiError as exc:
            return exc.message
        return f"The relay refused the admin token (HTTP {status})."

    def _resolve(self, data: dict[str, Any]) -> None:
        future = self._pending.pop(data.get("id"), None)  # type: ignore[arg-type]
        if future is None or future.done():
            return
        if data.get("ok"):
            future.set_result(data.get("result") or {})
        else:
            message, code = _error_message(data, 400)
            future.set_exception(AdminApiError(message, code=code))

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(
                    AdminApiError(
                        "The connection to the relay was lost before it answered; "
                        "check whether the change was made."
                    )
                )

    async def command(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run an admin command over the socket; :class:`AdminApiError` if refused."""
        ws = self._ws
        if ws is None or ws.closed:
            raise AdminApiError("Not connected to the relay; wait until the console reconnects.")
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        frame = {"type": "command", "id": ident, "command": name, "params": params or {}}
        try:
            await ws.send_json(frame)
            return await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            raise AdminApiError("The relay did not answer in time.") from None
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise AdminApiError(f"Could not send the command ({_why(exc)}).") from None
        finally:
            self._pending.pop(ident, None)

    # -- REST ------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, json: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call ``/admin/api<path>``; the JSON answer, or :class:`AdminApiError`."""
        try:
            async with self._http().request(
                method, self.rest_url + path, headers=self._headers, json=json
            ) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                if response.status >= 400:
                    message, code = _error_message(body, response.status)
                    raise AdminApiError(message, status=response.status, code=code)
                return body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            message = f"Cannot reach the relay at {self.relay_url} ({_why(exc)})."
            raise AdminApiError(message) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error.strerror or "connection failed"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__

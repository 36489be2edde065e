"""Messages the console's workers post back to the app (network work never touches
widgets directly: it runs in ``@work`` workers and reports through these)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message

from console.client import ClientEvent, Connected, Connecting, Disconnected


class ConnectionChanged(Message):
    """The socket's state: ``connecting``, ``connected``, ``disconnected`` or ``failed``
    (the relay refused the token; no more retries)."""

    def __init__(self, status: str, detail: str = "", retry_in: float | None = None) -> None:
        super().__init__()
        self.status = status
        self.detail = detail
        self.retry_in = retry_in


class RelayFrame(Message):
    """A ``snapshot`` or ``update`` frame from the relay."""

    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__()
        self.frame = frame


class CommandDone(Message):
    """An admin command finished: ``result`` on success, else ``error`` (plain words)."""

    def __init__(
        self,
        name: str,
        result: dict[str, Any] | None,
        error: str | None,
        on_done: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        super().__init__()
        self.command = name
        self.result = result
        self.error = error
        self.on_done = on_done


def from_client_event(event: ClientEvent) -> ConnectionChanged | RelayFrame:
    """The app message for one event of :meth:`console.client.AdminClient.events`."""
    if isinstance(event, Connecting):
        return ConnectionChanged("connecting", f"connecting to {event.url}…")
    if isinstance(event, Connected):
        return ConnectionChanged("connected")
    if isinstance(event, Disconnected):
        if event.retry_in is None:
            return ConnectionChanged("failed", event.reason)
        detail = f"{event.reason} Retrying in {event.retry_in:.1f} s."
        return ConnectionChanged("disconnected", detail, event.retry_in)
    return RelayFrame(event.message)

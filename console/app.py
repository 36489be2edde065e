"""The operator console: a Textual app over the relay's admin WebSocket.

Small on purpose: it owns the connection worker, the :class:`~console.model.Fleet` the
frames are applied to, and command dispatch; the tabs live in :mod:`console.screens`.
All network work runs in ``@work`` workers that post :mod:`console.messages` back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.client import AdminApiError
from console.messages import CommandDone, ConnectionChanged, RelayFrame, from_client_event
from console.model import Fleet
from console.palette import console_commands
from console.screens.base import ConsoleScreen
from console.screens.groups import GroupsScreen
from console.screens.keys import KeysScreen
from console.screens.nodes import NodesScreen
from console.screens.requests import RequestsScreen
from console.screens.usage import UsageScreen

log = logging.getLogger(__name__)


class Client(Protocol):
    """What the app needs of :class:`console.client.AdminClient` (tests pass a stub)."""

    def events(self) -> Any: ...  # an async iterator of ClientEvent

    async def command(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class ConsoleApp(App[None]):
    """``llmcluster-console``: nodes, groups, keys, usage and requests of one relay."""

    TITLE = "LLM Cluster console"
    MODES = {
        "nodes": NodesScreen,
        "groups": GroupsScreen,
        "keys": KeysScreen,
        "usage": UsageScreen,
        "requests": RequestsScreen,
    }
    BINDINGS = [
        Binding("1", "goto('nodes')", "Nodes", show=False),
        Binding("2", "goto('groups')", "Groups", show=False),
        Binding("3", "goto('keys')", "Keys", show=False),
        Binding("4", "goto('usage')", "Usage", show=False),
        Binding("5", "goto('requests')", "Requests", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, client: Client, relay_url: str, *, refresh_interval_s: float = 1.0) -> None:
        super().__init__()
        self.client = client
        self.relay_url = relay_url
        self.fleet = Fleet()
        self.connection: tuple[str, str] = ("connecting", "")
        self.refresh_interval_s = refresh_interval_s  # at most one redraw per interval
        self._changed: set[str] = set()
        self._redraw_due = False
        self._last_redraw = -refresh_interval_s

    def on_mount(self) -> None:
        self.switch_mode("nodes")
        self.listen()
        self._sampler = self.set_interval(self.fleet.history_interval_s, self.fleet.sample)

    async def on_unmount(self) -> None:
        await self.client.close()

    # -- the connection --------------------------------------------------------------

    @work(exclusive=True, group="connection")
    async def listen(self) -> None:
        """Follow the relay's socket forever (reconnecting); cancelled when the app ends."""
        try:
            async for event in self.client.events():
                self.post_message(from_client_event(event))
        except Exception as exc:  # never a traceback on screen: say it in words
            log.exception("the connection worker failed")
            detail = f"The console's connection failed ({type(exc).__name__}); restart it."
            self.post_message(ConnectionChanged("failed", detail))

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self.connection = (message.status, message.detail)
        for screen in self._console_screens():
            screen.refresh_status()

    def on_relay_frame(self, message: RelayFrame) -> None:
        try:
            changed = self.fleet.apply(message.frame)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.exception("could not apply a frame from the relay")
            self.notify(
                "The relay sent data this console does not understand; is one of them "
                "a different version?",
                severity="error",
            )
            return
        if message.frame.get("type") == "snapshot":
            self._sampler.stop()
            self._sampler = self.set_interval(self.fleet.history_interval_s, self.fleet.sample)
        self._changed |= changed
        if not self._redraw_due:
            self._redraw_due = True
            wait = self._last_redraw + self.refresh_interval_s - time.monotonic()
            if wait > 0:
                self.set_timer(wait, self._redraw)
            else:
                self.call_later(self._redraw)

    def _redraw(self) -> None:
        """Show what the frames since the last redraw changed (coalesced on our side too)."""
        changed, self._changed = self._changed, set()
        self._redraw_due = False
        self._last_redraw = time.monotonic()
        for screen in self._console_screens():
            screen.refresh_status()
            if changed:
                screen.redraw(changed)

    def _console_screens(self) -> list[ConsoleScreen]:
        return [s for s in self.screen_stack if isinstance(s, ConsoleScreen)]

    # -- commands --------------------------------------------------------------------

    def run_command(
        self,
        name: str,
        params: dict[str, Any],
        on_done: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Run an admin command in a worker; ``on_done`` gets the result on success."""
        self._command(name, params, on_done)

    @work(group="commands")
    async def _command(
        self, name: str, params: dict[str, Any], on_done: Callable[[dict[str, Any]], None] | None
    ) -> None:
        try:
            result = await self.client.command(name, params)
        except AdminApiError as exc:
            self.post_message(CommandDone(name, None, exc.message, on_done))
        else:
            self.post_message(CommandDone(name, result, None, on_done))

    def on_command_done(self, message: CommandDone) -> None:
        if message.error is not None:
            self.notify(message.error, title="The relay refused", severity="error", timeout=8)
        elif message.on_done is not None and message.result is not None:
            message.on_done(message.result)

    # -- navigation and the palette -------------------------------------------------

    async def action_goto(self, tab: str) -> None:
        await self.goto(tab)

    async def goto(self, tab: str, action: str | None = None) -> None:
        """Show ``tab`` (and run ``action`` on its screen, as its key binding would)."""
        if self.current_mode != tab:
            await self.switch_mode(tab)
        if action is not None:
            await self.screen.run_action(action)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from console_commands(self)
        yield from super().get_system_commands(screen)

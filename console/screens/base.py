"""What every tab of the console shares: the navigation line, the body, the status line
and the key bindings footer; and how a screen redraws from the app's :class:`Fleet`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from console.model import Fleet
from console.widgets.status import NavBar, StatusBar

if TYPE_CHECKING:
    from console.app import ConsoleApp

EVERYTHING = frozenset({"nodes", "requests", "me", "groups", "keys", "aliases", "queues"})


class ConsoleScreen(Screen[None]):
    """A tab of the console. Subclasses compose :meth:`body` and implement :meth:`redraw`."""

    TAB = "nodes"

    def compose(self) -> ComposeResult:
        yield NavBar(self.TAB)
        yield from self.body()
        yield StatusBar()
        yield Footer()

    def body(self) -> Iterable[Widget]:
        return ()

    @property
    def console(self) -> ConsoleApp:
        return cast("ConsoleApp", self.app)

    @property
    def fleet(self) -> Fleet:
        return self.console.fleet

    def on_screen_resume(self) -> None:
        self.refresh_status()
        self.redraw(set(EVERYTHING))

    def refresh_status(self) -> None:
        status, detail = self.console.connection
        me = self.fleet.me
        who = ""
        if me:
            role = "operator" if me.get("role") == "operator" else "group admin"
            who = f"{me.get('name', '?')} ({role})"
        queued = sum(n for models in self.fleet.queues.values() for n in models.values())
        self.query_one(StatusBar).show(status, detail, who, self.fleet.counts(), queued)

    def redraw(self, changed: set[str]) -> None:
        """Show the parts of the fleet named in ``changed`` (called on the UI thread)."""

    def command(self, name: str, params: dict[str, Any], on_done: Any = None) -> None:
        """Run an admin command in a worker; errors appear as notifications."""
        self.console.run_command(name, params, on_done)

    def after_form(
        self, name: str, extra: dict[str, Any] | None = None
    ) -> Callable[[dict[str, str] | None], None]:
        """A dialog callback that runs ``name`` with the form's values (unless cancelled)."""

        def done(values: dict[str, str] | None) -> None:
            if values:
                self.command(name, {**(extra or {}), **values})

        return done

    def after_confirm(self, name: str, params: dict[str, Any]) -> Callable[[bool | None], None]:
        """A confirmation callback that runs ``name`` only on yes."""

        def done(yes: bool | None) -> None:
            if yes:
                self.command(name, params)

        return done

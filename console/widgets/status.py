"""The top navigation line and the bottom status line every screen shows."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

TABS = (
    ("1", "Nodes", "nodes"),
    ("2", "Groups", "groups"),
    ("3", "Keys", "keys"),
    ("4", "Usage", "usage"),
    ("5", "Requests", "requests"),
)


class NavBar(Static):
    """``1 Nodes  2 Groups  3 Keys  4 Usage  5 Requests`` with the current one lit."""

    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def render(self) -> Text:
        text = Text(" ")
        for key, label, mode in TABS:
            style = "bold reverse" if mode == self.current else ""
            text.append(f" {key} {label} ", style=style)
            text.append(" ")
        return text


class StatusBar(Static):
    """Connection state (always visible), who is signed in, and node counts."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    """

    def show(
        self,
        status: str,
        detail: str,
        who: str,
        counts: tuple[int, int, int],
        queued: int = 0,
    ) -> None:
        text = Text(" ")
        if status == "connected":
            text.append("● connected", style="bold green")
        elif status == "failed":
            text.append("✖ refused", style="bold red")
        elif status == "connecting":
            text.append("◌ connecting", style="bold yellow")
        else:
            text.append("○ offline", style="bold red")
        if detail and status != "connected":
            text.append(f"  {detail}")
        else:
            online, total, in_flight = counts
            if who:
                text.append(f"  {who}")
            text.append(f"  nodes {online}/{total} online  {in_flight} in flight")
            if queued:
                text.append(f"  {queued} queued", style="yellow")
        self.update(text)

"""The console's entries in the command palette (ctrl+p): every action of every tab.

Each entry switches to the tab the action belongs to and runs it there, so the palette
and the key bindings always do the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand

if TYPE_CHECKING:
    from console.app import ConsoleApp

# (title, help, tab, action on that tab's screen or None to just switch)
ENTRIES: list[tuple[str, str, str, str | None]] = [
    ("Nodes", "Show the nodes table (1)", "nodes", None),
    ("Groups", "Show groups, members and aliases (2)", "groups", None),
    ("Keys", "Show API keys (3)", "keys", None),
    ("Usage", "Show usage by key, user, model or node (4)", "usage", None),
    ("Requests", "Show the live request feed (5)", "requests", None),
    ("Node detail", "Open the selected node's detail (enter)", "nodes", "open"),
    (
        "Drain or resume node",
        "Stop or restart sending the selected node requests (d)",
        "nodes",
        "drain",
    ),
    (
        "New node token",
        "Register a node and show its token once (n on Nodes)",
        "nodes",
        "new_token",
    ),
    (
        "Revoke node",
        "Revoke the selected node and close its tunnel (x on Nodes)",
        "nodes",
        "revoke",
    ),
    ("New group", "Create a group; operator only (n on Groups)", "groups", "new_group"),
    ("Rename group", "Rename the selected group (r)", "groups", "rename"),
    ("Add member", "Add a user to the selected group (a)", "groups", "add_member"),
    ("Change member role", "Change the selected member's role (o)", "groups", "role"),
    ("Set model alias", "Create or replace a model alias of the group (s)", "groups", "set_alias"),
    (
        "Remove from group",
        "Delete the focused group, member or alias (x on Groups)",
        "groups",
        "remove",
    ),
    ("New API key", "Create a key; the secret is shown once (n on Keys)", "keys", "create"),
    ("Revoke API key", "Revoke the selected key (x on Keys)", "keys", "revoke"),
    ("Hide revoked keys", "Show or hide revoked keys (h)", "keys", "toggle_revoked"),
    ("Usage window", "Cycle 1h / 24h / 7d (w)", "usage", "cycle_window"),
    ("Usage grouping", "Cycle key / user / model / node (b)", "usage", "cycle_by"),
    ("Usage group", "Cycle the group shown (g)", "usage", "cycle_group"),
    ("Reload usage", "Ask the relay for the usage figures again (r)", "usage", "reload"),
    ("Pause requests", "Stop or resume following new requests (p)", "requests", "pause"),
]


def console_commands(app: ConsoleApp) -> Iterable[SystemCommand]:
    for title, help_text, tab, action in ENTRIES:

        async def run(tab: str = tab, action: str | None = action) -> None:
            await app.goto(tab, action)

        yield SystemCommand(title, help_text, run)

"""The Keys tab: API keys by name and prefix. n creates one (the secret is shown once,
with a copy action); x revokes the selected key after a confirmation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from console import format as fmt
from console.screens.base import ConsoleScreen
from console.screens.dialogs import ConfirmDialog, Field, FormDialog, SecretDialog
from console.widgets.table import KeyedTable

COLUMNS: list[tuple[str, str, int | None]] = [
    ("name", "Key", 12),
    ("prefix", "Prefix", 13),
    ("group", "Group", 9),
    ("user", "User", 8),
    ("last", "Last used", 11),
    ("status", "Status", 7),
]


class KeysScreen(ConsoleScreen):
    """Every key of the admin's groups; revoked ones last."""

    TAB = "keys"
    BINDINGS = [
        Binding("n", "create", "New key"),
        Binding("x,delete", "revoke", "Revoke"),
        Binding("h", "toggle_revoked", "Hide revoked"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.hide_revoked = False

    def body(self) -> Iterable[Widget]:
        yield KeyedTable(COLUMNS, id="keys")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#keys", KeyedTable)

    def redraw(self, changed: set[str]) -> None:
        if "keys" not in changed:
            return
        keys = sorted(
            self.fleet.keys, key=lambda k: (bool(k.get("revoked_at")), k["group"], k["name"])
        )
        rows = []
        for k in keys:
            if self.hide_revoked and k.get("revoked_at"):
                continue
            status = (
                Text("revoked", style="red") if k.get("revoked_at") else Text("active", "green")
            )
            rows.append(
                (
                    k["id"],
                    [
                        fmt.truncate(k["name"], 12),
                        k["prefix"] + "…",
                        fmt.truncate(k["group"], 9),
                        fmt.truncate(k["user"], 8),
                        fmt.day(k.get("last_used_at"))[5:] if k.get("last_used_at") else "never",
                        status,
                    ],
                )
            )
        self.table.sync(rows)

    def selected(self) -> dict[str, Any] | None:
        key = self.table.selected_key
        return next((k for k in self.fleet.keys if k["id"] == key), None)

    def action_toggle_revoked(self) -> None:
        self.hide_revoked = not self.hide_revoked
        self.redraw({"keys"})

    def action_create(self) -> None:
        groups = [(g["id"], g["name"]) for g in self.fleet.groups]
        if not groups:
            self.notify("You manage no group to create a key in.", severity="warning")
            return
        form = FormDialog(
            "New API key (the secret is shown once)",
            [
                Field("group", "Group", options=groups),
                Field("name", "Key name", placeholder="laptop"),
                Field("user", "For user (empty: you)", placeholder=self.fleet.me.get("name", "")),
            ],
            "Create",
        )
        self.app.push_screen(form, self._create)

    def _create(self, values: dict[str, str] | None) -> None:
        if not values:
            return
        params = {k: v for k, v in values.items() if v}
        self.command("key.create", params, self._show_secret)

    def _show_secret(self, result: dict[str, Any]) -> None:
        key = result["key"]
        note = (
            "Shown once: only its hash is kept. Use it as the OpenAI API key with base URL "
            f"{self.console.relay_url}/v1"
        )
        self.app.push_screen(
            SecretDialog(
                f"API key {key['name']} for {key['user']} in {key['group']}", result["secret"], note
            )
        )

    def action_revoke(self) -> None:
        key = self.selected()
        if key is None or key.get("revoked_at"):
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.command(
                    "key.revoke",
                    {"key": key["id"]},
                    lambda _: self.notify(f"Revoked key {key['name']}."),
                )

        question = f"Revoke key {key['name']!r} ({key['prefix']}…)? Requests with it fail at once."
        self.app.push_screen(ConfirmDialog(question, "Revoke"), confirmed)

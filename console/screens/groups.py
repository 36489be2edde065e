"""The Groups tab: groups on the left; the selected group's members and model aliases on
the right. Tab moves between the tables; each key acts on the focused one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static

from console import format as fmt
from console.screens.base import ConsoleScreen
from console.screens.dialogs import ConfirmDialog, Field, FormDialog
from console.widgets.table import KeyedTable

ROLES = [("member", "member"), ("admin", "admin"), ("owner", "owner")]


class GroupsScreen(ConsoleScreen):
    """Groups, members and aliases. n new group, r rename, a add member, o role,
    s set alias, x delete/remove what the focused table shows."""

    TAB = "groups"
    BINDINGS = [
        Binding("n", "new_group", "New group"),
        Binding("r", "rename", "Rename"),
        Binding("a", "add_member", "Add member"),
        Binding("o", "role", "Role"),
        Binding("s", "set_alias", "Alias"),
        Binding("x,delete", "remove", "Remove"),
    ]
    DEFAULT_CSS = """
    GroupsScreen #groups-pane { width: 1fr; }
    GroupsScreen #side { width: 1fr; }
    GroupsScreen .caption { height: 1; padding: 0 1; background: $boost; }
    """

    def body(self) -> Iterable[Widget]:
        yield Horizontal(
            Vertical(
                Static("Groups", classes="caption"),
                KeyedTable(
                    [
                        ("name", "Group", 14),
                        ("members", "Memb", 4),
                        ("nodes", "Nodes", 5),
                        ("keys", "Keys", 4),
                    ],
                    id="groups",
                ),
                id="groups-pane",
            ),
            Vertical(
                Static("Members", classes="caption", id="members-caption"),
                KeyedTable(
                    [("name", "User", 16), ("role", "Role", 6), ("since", "Since", 10)],
                    id="members",
                ),
                Static("Model aliases", classes="caption"),
                KeyedTable([("alias", "Alias", 14), ("targets", "Targets", 20)], id="aliases"),
                id="side",
            ),
        )

    def table(self, name: str) -> KeyedTable:
        return self.query_one(f"#{name}", KeyedTable)

    def current_group(self) -> dict[str, Any] | None:
        return self.fleet.group(self.table("groups").selected_key)

    def redraw(self, changed: set[str]) -> None:
        if changed & {"groups", "aliases"}:
            self.table("groups").sync(
                [
                    (
                        g["id"],
                        [
                            fmt.truncate(g["name"], 14),
                            str(len(g["members"])),
                            str(g["nodes"]),
                            str(g["keys"]),
                        ],
                    )
                    for g in self.fleet.groups
                ]
            )
            self._show_group()

    def _show_group(self) -> None:
        group = self.current_group()
        members = group["members"] if group else []
        caption = f"Members of {group['name']}" if group else "Members"
        self.query_one("#members-caption", Static).update(caption)
        self.table("members").sync(
            [
                (m["user_id"], [fmt.truncate(m["name"], 16), m["role"], fmt.day(m["since"])[:10]])
                for m in members
            ]
        )
        aliases = self.fleet.aliases_of(group["id"]) if group else []
        self.table("aliases").sync(
            [(a["alias"], [fmt.truncate(a["alias"], 14), ", ".join(a["targets"])]) for a in aliases]
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "groups":
            self._show_group()

    # -- actions -----------------------------------------------------------------------

    def action_new_group(self) -> None:
        if not self.fleet.is_operator:
            self.notify("Only the operator creates groups.", severity="warning")
            return
        form = FormDialog("New group", [Field("name", "Name", placeholder="friends")], "Create")
        self.app.push_screen(form, self.after_form("group.create"))

    def action_rename(self) -> None:
        group = self.current_group()
        if group is None:
            return
        form = FormDialog(f"Rename {group['name']}", [Field("name", "New name", group["name"])])
        self.app.push_screen(form, self.after_form("group.rename", {"group": group["id"]}))

    def action_add_member(self) -> None:
        group = self.current_group()
        if group is None:
            return
        form = FormDialog(
            f"Add a member to {group['name']} (a new user name creates the user)",
            [Field("user", "User name", placeholder="dave"), Field("role", "Role", options=ROLES)],
            "Add",
        )
        extra = {"group": group["id"], "create_user": True}
        self.app.push_screen(form, self.after_form("member.add", extra))

    def _member(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        group = self.current_group()
        key = self.table("members").selected_key
        member = next((m for m in group["members"] if m["user_id"] == key), None) if group else None
        return (group, member) if group and member else None

    def action_role(self) -> None:
        picked = self._member()
        if picked is None:
            self.notify("Pick a member in the Members table first.", severity="warning")
            return
        group, member = picked
        form = FormDialog(
            f"Role of {member['name']} in {group['name']}",
            [Field("role", "Role", member["role"], options=ROLES)],
        )
        extra = {"group": group["id"], "user": member["user_id"]}
        self.app.push_screen(form, self.after_form("member.role", extra))

    def action_set_alias(self) -> None:
        group = self.current_group()
        if group is None:
            return
        form = FormDialog(
            f"Model alias in {group['name']} (replaces an alias of the same name)",
            [
                Field("alias", "Alias", placeholder="fast"),
                Field("targets", "Models (comma-separated)", placeholder="llama3:8b, qwen2.5:7b"),
            ],
        )

        def save(values: dict[str, str] | None) -> None:
            if values:
                targets = [t.strip() for t in values["targets"].split(",") if t.strip()]
                self.command(
                    "alias.set",
                    {"group": group["id"], "alias": values["alias"], "targets": targets},
                )

        self.app.push_screen(form, save)

    def action_remove(self) -> None:
        focused = self.focused
        group = self.current_group()
        if group is None:
            return
        if focused is self.table("members"):
            picked = self._member()
            if picked:
                member = picked[1]
                self._confirm(
                    f"Remove {member['name']} from {group['name']}?",
                    "member.remove",
                    {"group": group["id"], "user": member["user_id"]},
                )
        elif focused is self.table("aliases"):
            alias = self.table("aliases").selected_key
            if alias:
                self._confirm(
                    f"Delete alias {alias!r} of {group['name']}?",
                    "alias.delete",
                    {"group": group["id"], "alias": alias},
                )
        else:
            self._confirm(
                f"Delete group {group['name']!r} with its keys and nodes? This cannot be undone.",
                "group.delete",
                {"group": group["id"]},
            )

    def _confirm(self, question: str, command: str, params: dict[str, Any]) -> None:
        self.app.push_screen(
            ConfirmDialog(question, "Delete" if command.endswith("delete") else "Remove"),
            self.after_confirm(command, params),
        )

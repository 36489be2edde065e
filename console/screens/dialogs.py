"""Modal dialogs: confirm, a small form, and the show-once secret with a copy action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 76; max-width: 100%; height: auto; max-height: 100%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align: right middle; margin-top: 1; }}
{name} Button {{ margin-left: 1; min-width: 10; }}
{name} Input, {name} Select {{ margin-bottom: 1; }}
"""


class ConfirmDialog(ModalScreen[bool]):
    """Yes or no; ``y``/Enter confirms, ``n``/Escape cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="title")
            with Horizontal():
                yield Button(f"{self.yes} (y)", id="yes", variant="error", compact=True)
                yield Button("Cancel (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass
class Field:
    """One form field: a text input, or a choice among ``options`` (value, label)."""

    name: str
    label: str
    value: str = ""
    placeholder: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)


class FormDialog(ModalScreen[dict[str, str] | None]):
    """A few fields; Enter in the last field or ``ctrl+s`` submits, Escape cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="FormDialog")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save"),
    ]

    def __init__(self, title: str, fields: list[Field], submit: str = "Save") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.submit_label = submit

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            for f in self.fields:
                yield Label(f.label)
                if f.options:
                    value: Any = f.value if f.value else f.options[0][0]
                    options = [(label, v) for v, label in f.options]
                    yield Select(
                        options, value=value, allow_blank=False, compact=True, id=f"f-{f.name}"
                    )
                else:
                    yield Input(f.value, placeholder=f.placeholder, compact=True, id=f"f-{f.name}")
            with Horizontal():
                yield Button(
                    f"{self.submit_label} (ctrl+s)", id="submit", variant="primary", compact=True
                )
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.fields:
            widget = self.query_one(f"#f-{f.name}")
            if isinstance(widget, Select):
                out[f.name] = str(widget.value)
            elif isinstance(widget, Input):
                out[f.name] = widget.value.strip()
        return out

    def action_submit(self) -> None:
        self.dismiss(self.values())

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        if inputs and event.input is inputs[-1]:
            self.action_submit()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()


class SecretDialog(ModalScreen[None]):
    """A secret shown once (a new key or node token), with ``c`` to copy it."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="SecretDialog")
        + """
    SecretDialog #secret { background: $boost; padding: 0 1; margin-bottom: 1; }
    """
    )
    BINDINGS = [
        Binding("c", "copy", "Copy"),
        Binding("escape,enter", "close", "Close", priority=True),
    ]

    def __init__(self, title: str, secret: str, note: str) -> None:
        super().__init__()
        self.title_text = title
        self.secret = secret
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            yield Static(self.secret, id="secret")
            yield Static(self.note)
            with Horizontal():
                yield Button("Copy (c)", id="copy", variant="primary", compact=True)
                yield Button("Close (enter)", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.secret)
        self.notify("Copied to the clipboard (if your terminal allows it).")

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.action_close()

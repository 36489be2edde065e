"""A DataTable kept in step with a list of keyed rows, redrawing only what changed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
Row = tuple[str, Sequence[Cell]]


class KeyedTable(DataTable[Cell]):
    """Rows identified by a key (a node id, a key id). :meth:`sync` makes the table show
    exactly the given rows in that order; the cursor stays on the same key."""

    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, str, int | None]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._spec = list(columns)
        self._rows: dict[str, list[Cell]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        if not self.columns:
            for key, label, width in self._spec:
                self.add_column(label, key=key, width=width)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def sync(self, rows: Sequence[Row]) -> None:
        order = [key for key, _ in rows]
        if order != self._order:
            keep = self.selected_key
            self.clear()
            self._rows = {}
            for key, cells in rows:
                self.add_row(*cells, key=key)
                self._rows[key] = list(cells)
            self._order = order
            if keep in self._rows:
                self.move_cursor(row=order.index(keep), animate=False)
            return
        columns = [key for key, _, _ in self._spec]
        for key, cells in rows:
            old = self._rows[key]
            for index, cell in enumerate(cells):
                if old[index] != cell:
                    self.update_cell(key, columns[index], cell)
            self._rows[key] = list(cells)

    def set_columns(self, columns: Sequence[tuple[str, str, int | None]]) -> None:
        """Replace the columns (e.g. on resize); the next :meth:`sync` refills the rows."""
        self._spec = list(columns)
        self.clear(columns=True)
        self._rows, self._order = {}, []
        for key, label, width in self._spec:
            self.add_column(label, key=key, width=width)

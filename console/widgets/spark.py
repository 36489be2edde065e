"""A sparkline on a fixed scale, newest sample at the right edge, one column per sample.

Textual's own ``Sparkline`` rescales to the data's min and max and stretches a short
history across the whole width; for GPU metrics a fixed scale (0-100 %) and a history
that grows in from the right read better, so the console draws its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


def spark_rows(
    values: Sequence[float], width: int, height: int, low: float, high: float
) -> list[str]:
    """The text rows (top first) of a ``height``-row chart of the last ``width`` values."""
    shown = list(values)[-width:] if width > 0 else []
    span = (high - low) or 1.0
    eighths = [round(min(1.0, max(0.0, (v - low) / span)) * height * 8) for v in shown]
    rows = []
    for row in range(height - 1, -1, -1):
        base = row * 8
        cells = [BLOCKS[min(8, max(0, e - base))] for e in eighths]
        rows.append(" " * (width - len(cells)) + "".join(cells))
    return rows


class Spark(Widget):
    """A fixed-scale sparkline. Set :attr:`data`; ``high=None`` scales to the data's max."""

    DEFAULT_CSS = """
    Spark { height: 1; color: $accent; }
    """

    data: reactive[tuple[float, ...]] = reactive(tuple)

    def __init__(
        self,
        low: float = 0.0,
        high: float | None = 100.0,
        *,
        stretch: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.low = low
        self.high = high
        self.stretch = stretch  # widen each sample to fill the width (a short series)

    def render(self) -> Text:
        high = self.high if self.high is not None else max(self.data, default=0.0)
        values: Sequence[float] = self.data
        if self.stretch and values:
            repeat = max(1, self.size.width // len(values))
            values = [v for v in values for _ in range(repeat)]
        rows = spark_rows(values, self.size.width, max(1, self.size.height), self.low, high)
        return Text("\n".join(rows))

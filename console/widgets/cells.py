"""Rich text for table cells: VRAM bars, chart bars, status and temperature colours."""

from __future__ import annotations

from rich.text import Text

FULL = "█"
PARTS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int, style: str) -> Text:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (eighths of a cell)."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    filled = FULL * full + (PARTS[part] if part and full < width else "")
    text = Text(filled, style=style)
    text.append("·" * (width - len(filled)), style="dim")
    return text


def vram_bar(used_mb: float, total_mb: float, width: int = 6) -> Text:
    """``████·· 67%``: green, yellow above 75 %, red above 90 %."""
    if total_mb <= 0:
        return Text("-", style="dim")
    fraction = used_mb / total_mb
    style = "red" if fraction > 0.9 else "yellow" if fraction > 0.75 else "green"
    text = bar(fraction, width, style)
    text.append(f"{fraction * 100:4.0f}%")
    return text


STATUS_STYLES = {"online": "green", "draining": "yellow", "offline": "red"}


def status(value: str, drained: bool = False) -> Text:
    label = "drained" if drained and value != "offline" else value
    return Text(label, style=STATUS_STYLES.get(value, ""))


def temperature(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    style = "red" if value >= 85 else "yellow" if value >= 75 else ""
    return Text(f"{value:.0f}°", style=style)


def percent(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    return Text(f"{value:.0f}%", style="bold" if value >= 90 else "")


def http_status(value: int | None) -> Text:
    if not value:
        return Text("-", style="dim")
    return Text(str(value), style="green" if value < 400 else "red")

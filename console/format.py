"""Turning the relay's numbers and times into short, readable cells (plain strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def clock(iso: str | None) -> str:
    """``HH:MM:SS`` in local time, or ``-``."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return "-"


def day(iso: str | None) -> str:
    """``YYYY-MM-DD HH:MM`` in local time, or ``-`` (never used)."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "-"


def count(value: float | int | None) -> str:
    """1234 -> ``1.2k``, 2_500_000 -> ``2.5M``."""
    if value is None:
        return "-"
    value = float(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f}s" if value >= 10_000 else f"{value:.0f}ms"


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def gpu_summary(
    gpus: list[dict[str, Any]] | None,
) -> tuple[float | None, float, float, float | None]:
    """(mean utilization %, VRAM used MB, VRAM total MB, hottest °C) over a node's GPUs."""
    if not gpus:
        return None, 0.0, 0.0, None
    utils = [
        g["utilization_pct"] for g in gpus if isinstance(g.get("utilization_pct"), int | float)
    ]
    temps = [g["temperature_c"] for g in gpus if isinstance(g.get("temperature_c"), int | float)]
    used = sum(float(g.get("memory_used_mb") or 0) for g in gpus)
    total = sum(float(g.get("memory_total_mb") or 0) for g in gpus)
    return (
        sum(utils) / len(utils) if utils else None,
        used,
        total,
        max(temps) if temps else None,
    )


def gib(mb: float) -> str:
    return f"{mb / 1024:.0f}G" if mb >= 10 * 1024 else f"{mb / 1024:.1f}G"


def hot_models(node: dict[str, Any]) -> str:
    """Models loaded in VRAM (else the first available), comma-separated."""
    models = node.get("models") or []
    loaded = [m["id"] for m in models if m.get("loaded")]
    if loaded:
        return ", ".join(loaded)
    return f"{len(models)} avail." if models else "-"

"""Helpers for the GPU tests: where the fake tools live, and injectable stand-ins."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

FAKE_BIN = Path(__file__).resolve().parents[2] / "fakes" / "bin"


def only(*tools: str) -> Callable[[str], str | None]:
    """A ``which`` that finds only the named tools, and only in tests/fakes/bin."""

    def which(name: str) -> str | None:
        return shutil.which(name, path=str(FAKE_BIN)) if name in tools else None

    return which


def no_import(name: str) -> object:
    """An ``import_module`` for a machine where no GPU library is installed."""
    raise ImportError(f"No module named {name!r}")

"""Helpers shared by the CLI tests: run the CLI in-process, open its store, check errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

import storage
from relay.cli import main
from storage.base import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Run:
    """The outcome of one in-process CLI run."""

    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        """stdout parsed as the single JSON object it must be."""
        assert self.code == 0, self.err
        data = json.loads(self.out)
        assert isinstance(data, dict)
        return data


Cli = Callable[..., Run]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run ``llmcluster-relay argv...`` in-process and capture what it printed."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def with_store(url: str, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``url``, run ``fn`` on it and close it again."""

    async def go() -> T:
        store = await storage.open_store(url)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(go())


def assert_one_line_error(run: Run, *fragments: str) -> None:
    """Exit 1, nothing on stdout, one ``llmcluster-relay: error:`` line naming ``fragments``."""
    assert run.code == 1, (run.out, run.err)
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("llmcluster-relay: error: ")
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]

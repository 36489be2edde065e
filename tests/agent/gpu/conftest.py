"""Fixtures for the GPU tests: fake vendor tools on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.agent.gpu.helpers import FAKE_BIN


@pytest.fixture
def fake_bin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put tests/fakes/bin first on PATH (plus this Python, for the scripts' shebang)."""
    path = os.pathsep.join([str(FAKE_BIN), str(Path(sys.executable).parent), os.environ["PATH"]])
    monkeypatch.setenv("PATH", path)
    monkeypatch.delenv("FAKE_NVIDIA_SMI_MODE", raising=False)
    monkeypatch.delenv("FAKE_ROCM_SMI_MODE", raising=False)
    return FAKE_BIN

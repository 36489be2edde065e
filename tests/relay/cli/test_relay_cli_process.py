"""The installed ``llmcluster-relay`` script and ``python -m relay``, as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(sys.executable).with_name("llmcluster-relay")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCLUSTER_RELAY_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    return env


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "--database-url", f"sqlite:///{tmp_path}/r.db", *argv],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"{SCRIPT} is not installed")
def test_console_script_end_to_end(tmp_path: Path) -> None:
    init = _run(tmp_path, "init")
    assert init.returncode == 0, init.stderr
    assert "store it now" in init.stdout
    assert sum(line.startswith("eyJ") for line in init.stdout.splitlines()) == 1

    assert _run(tmp_path, "group", "create", "team").returncode == 0
    assert _run(tmp_path, "member", "add", "--group", "team", "--user", "operator").returncode == 0
    key = _json(_run(tmp_path, "--json", "key", "create", "--user", "operator", "--group", "team"))
    assert set(key) == {"id", "name", "prefix", "group", "user", "key"}
    node = _json(_run(tmp_path, "node", "add", "--group", "team", "--name", "rig", "--json"))
    assert set(node) == {"id", "name", "group", "user", "token"}
    listed = _json(_run(tmp_path, "key", "list", "--json"))
    assert [k["id"] for k in listed["keys"]] == [key["id"]]
    assert key["key"] not in json.dumps(listed)

    err = _run(tmp_path, "group", "create", "team")
    assert err.returncode == 1
    assert err.stdout == ""
    assert err.stderr.splitlines() == [
        "llmcluster-relay: error: a group named 'team' already exists"
    ]


def test_python_dash_m_relay_help(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "relay", "--help"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: llmcluster-relay")


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "relay", "group", "frobnicate"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "Traceback" not in proc.stderr

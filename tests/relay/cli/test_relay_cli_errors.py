"""Expected failures: one ``llmcluster-relay: error:`` line, exit 1, never a traceback."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from relay.cli import main

from ._support import Cli, assert_one_line_error, run_cli


def test_unknown_and_duplicate_names(cli: Cli) -> None:
    cli("init")
    assert_one_line_error(cli("member", "list", "--group", "ghosts"), "no group named 'ghosts'")
    assert_one_line_error(
        cli("member", "add", "--group", "ghosts", "--user", "operator"), "no group named 'ghosts'"
    )
    cli("group", "create", "team")
    assert_one_line_error(cli("group", "create", "team"), "a group named 'team' already exists")
    cli("user", "add", "alice")
    assert_one_line_error(cli("user", "add", "alice"), "a user named 'alice' already exists")
    assert_one_line_error(
        cli("member", "add", "--group", "team", "--user", "zed"), "no user named 'zed'"
    )


@pytest.mark.parametrize("name", ["", "two words", ".dot", "x" * 65, "semi;colon"])
def test_invalid_names_are_rejected(cli: Cli, name: str) -> None:
    cli("init")
    assert_one_line_error(cli("group", "create", name), "invalid group name")


def test_missing_database_needs_init(sqlite_cli: Cli) -> None:
    assert_one_line_error(sqlite_cli("group", "list"), "no database at", "init")


def test_missing_config_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    run = run_cli(capsys, "--config", str(path), "group", "list")
    assert_one_line_error(run, str(path))


@pytest.mark.parametrize(
    ("contents", "fragment"),
    [
        ("port = [", "invalid TOML"),
        ("prot = 8080\n", "unknown key 'prot'"),
        ('port = "abc"\n', "key 'port'"),
        ('database_url = "ftp://x/y"\n', "key 'database_url'"),
    ],
)
def test_bad_config_contents_name_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, contents: str, fragment: str
) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(contents)
    run = run_cli(capsys, "--config", str(path), "group", "list")
    assert_one_line_error(run, str(path), fragment)


def test_config_file_supplies_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "relay.toml"
    path.write_text('data_dir = "state"\n')  # relative to the file's folder
    assert run_cli(capsys, "--config", str(path), "init").code == 0
    assert (tmp_path / "state" / "relay.db").is_file()
    again = run_cli(capsys, "--data-dir", str(tmp_path / "state"), "--json", "user", "list")
    assert [u["name"] for u in again.json()["users"]] == ["operator"]


def test_bad_database_url_flag(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "--database-url", "ftp://example.org/db", "group", "list")
    assert_one_line_error(run, "command line", "database_url")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["group"],
        ["member", "add", "--group", "g", "--user", "u", "--role", "king"],
        ["init", "--ttl-days", "0"],
        ["key", "create", "--user", "u"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("serve", "init", "token", "group", "user", "member", "key", "node"):
        assert name in out


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace ``relay.server`` with a module whose ``serve`` records its settings."""
    calls: list[Any] = []
    module = types.ModuleType("relay.server")
    module.serve = calls.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "relay.server", module)
    return calls


def test_serve_passes_overrides(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_server: list[Any]
) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    argv = ["--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0", "--port", "9443"]
    run = run_cli(capsys, *argv, "--certfile", str(cert), "--keyfile", str(key))
    assert run.code == 0, run.err
    (settings,) = fake_server
    assert (settings.host, settings.port) == ("0.0.0.0", 9443)
    assert (settings.certfile, settings.keyfile) == (cert, key)
    assert settings.data_dir == tmp_path


def test_serve_rejects_half_a_tls_setup(
    capsys: pytest.CaptureFixture[str], fake_server: list[Any]
) -> None:
    run = run_cli(capsys, "serve", "--certfile", "c.pem")
    assert_one_line_error(run, "keyfile")
    assert fake_server == []


def test_serve_rejects_a_bad_port(
    capsys: pytest.CaptureFixture[str], fake_server: list[Any]
) -> None:
    assert_one_line_error(run_cli(capsys, "serve", "--port", "70000"), "port")
    assert fake_server == []

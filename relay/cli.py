"""``llmcluster-relay``: run the relay server and administer its database.

Global options (``--config``, ``--database-url``, ``--data-dir``, ``--json``) go before
the subcommand, and are also accepted after it. ``serve`` runs the server; every other
command opens the store named by the settings, does one thing and closes it again.

Expected failures (bad settings, unknown names, duplicates) print one line,
``llmcluster-relay: error: ...``, on stderr and exit 1; usage errors exit 2. With
``--json`` a command prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from config import ConfigError, RelaySettings, load_relay_settings
from relay import cli_admin, cli_creds, cli_limits, cli_usage
from relay.cli_common import PROG, CliError, Result, opened_store, prepare_database, sqlite_path
from storage.base import Role, Store, StoreError

Handler = Callable[[Store, argparse.Namespace], Awaitable[Result]]

MAX_TTL_DAYS = 3650


def _ttl_days(text: str) -> int:
    """An argparse type: a whole number of days, 1 to :data:`MAX_TTL_DAYS`."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_TTL_DAYS:
        raise argparse.ArgumentTypeError(f"expected 1-{MAX_TTL_DAYS} days, got {text!r}")
    return days


def _add_globals(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The global options; below the top level they default to "not given" (SUPPRESS)
    so a subcommand never resets a value given before it."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--config", type=Path, metavar="PATH", default=default(None), help="relay TOML file"
    )
    parser.add_argument(
        "--database-url", metavar="URL", default=default(None), help="database URL (overrides)"
    )
    parser.add_argument(
        "--data-dir", metavar="PATH", default=default(None), help="data folder (overrides)"
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print one JSON object"
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser of ``llmcluster-relay``."""
    common = argparse.ArgumentParser(add_help=False)
    _add_globals(common, top=False)
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run and administer an LLM Cluster relay."
    )
    _add_globals(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, help_text: str, handler: Handler | None = None
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        p.set_defaults(handler=handler)
        return p

    def family(name: str, help_text: str) -> Any:
        p = command(sub, name, help_text)
        return p.add_subparsers(dest="action", required=True, metavar="ACTION")

    serve = command(sub, "serve", "run the relay server until SIGINT/SIGTERM")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="TCP port to listen on")
    serve.add_argument("--certfile", metavar="F", help="TLS certificate (PEM), with --keyfile")
    serve.add_argument("--keyfile", metavar="K", help="TLS private key (PEM), with --certfile")

    init = command(sub, "init", "create the database and the operator", cli_admin.cmd_init)
    init.add_argument("--user", default="operator", help="operator name (default: operator)")
    init.add_argument("--ttl-days", type=_ttl_days, default=90, help="token lifetime (90)")

    tokens = family("token", "admin tokens")
    p = command(tokens, "create", "issue an admin token", cli_admin.cmd_token_create)
    p.add_argument("--user", required=True, help="an operator or group owner/admin")
    p.add_argument("--ttl-days", type=_ttl_days, default=90, help="token lifetime (90)")

    groups = family("group", "groups")
    command(groups, "create", "create a group", cli_admin.cmd_group_create).add_argument("name")
    command(groups, "list", "list groups", cli_admin.cmd_group_list)

    users = family("user", "users")
    p = command(users, "add", "create a user", cli_admin.cmd_user_add)
    p.add_argument("name")
    p.add_argument("--operator", action="store_true", help="make the user an operator")
    command(users, "list", "list users", cli_admin.cmd_user_list)

    members = family("member", "group memberships")
    p = command(members, "add", "add a user to a group", cli_admin.cmd_member_add)
    p.add_argument("--group", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
    command(members, "list", "list a group's members", cli_admin.cmd_member_list).add_argument(
        "--group", required=True
    )

    keys = family("key", "consumer API keys")
    p = command(keys, "create", "issue an API key (shown once)", cli_creds.cmd_key_create)
    p.add_argument("--user", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--name", default="default", help="a label for the key (default: default)")
    p = command(keys, "list", "list API keys", cli_creds.cmd_key_list)
    p.add_argument("--group")
    p.add_argument("--user")
    command(keys, "revoke", "revoke an API key", cli_creds.cmd_key_revoke).add_argument("key_id")

    nodes = family("node", "GPU nodes")
    p = command(nodes, "add", "register a node (token shown once)", cli_creds.cmd_node_add)
    p.add_argument("--group", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--user", help="owner (default: the group's first owner, else the operator)")
    command(nodes, "list", "list nodes", cli_creds.cmd_node_list).add_argument("--group")
    command(nodes, "revoke", "revoke a node", cli_creds.cmd_node_revoke).add_argument("node_id")

    cli_limits.add_commands(sub, command, family)  # limits, alias
    cli_usage.add_commands(sub, command, family)  # usage, ledger
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> RelaySettings:
    """Settings from ``--config``, the environment and the command-line overrides."""
    overrides = {"database_url": args.database_url, "data_dir": args.data_dir, **extra}
    return load_relay_settings(args.config, overrides=overrides)


def _serve(args: argparse.Namespace) -> None:
    """Build the settings with ``serve``'s overrides and run the server (blocking)."""
    settings = _settings(
        args, host=args.host, port=args.port, certfile=args.certfile, keyfile=args.keyfile
    )
    try:
        from relay.server import serve
    except ModuleNotFoundError as exc:
        if exc.name != "relay.server":
            raise
        raise CliError("this installation has no relay server (relay.server is missing)") from None
    try:
        serve(settings)
    except OSError as exc:  # typically: the address is already in use
        raise CliError(f"cannot serve on {settings.host}:{settings.port}: {exc}") from None


async def _run(url: str, handler: Handler, args: argparse.Namespace) -> Result:
    async with opened_store(url) as store:
        return await handler(store, args)


def _administer(args: argparse.Namespace) -> Result:
    """Run one store command against the database the settings name."""
    url = _settings(args).effective_database_url()
    init = args.command == "init"
    prepare_database(url, create=init)
    result = asyncio.run(_run(url, args.handler, args))
    path = sqlite_path(url)
    if init and path is not None:
        with contextlib.suppress(OSError):
            path.chmod(0o600)  # it holds the token signing key
    return result


def _emit(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.data, indent=2))
    else:
        print("\n".join(result.text))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``llmcluster-relay``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            _serve(args)
            return 0
        result = _administer(args)
    except (CliError, ConfigError, StoreError) as exc:
        message = " ".join((str(exc) or type(exc).__name__).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    _emit(result, args.json)
    return 0

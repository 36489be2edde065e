"""``llmcluster-console [--relay URL] [--token T] [--config console.toml]``.

Settings come from the console TOML (``$XDG_CONFIG_HOME/llmcluster/console.toml`` when it
exists), then the environment (``LLMCLUSTER_CONSOLE_*``, ``LLMCLUSTER_ADMIN_TOKEN``), then
the flags. Without a token it says how to get one and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from config import ConfigError, ConsoleSettings, default_config_path, load_console_settings

PROG = "llmcluster-console"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Operator console of an LLM Cluster relay (a terminal UI)."
    )
    parser.add_argument("--relay", metavar="URL", help="base URL of the relay")
    parser.add_argument(
        "--token",
        metavar="T",
        help="admin token (better: LLMCLUSTER_ADMIN_TOKEN, which stays out of `ps`)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"console TOML (default {default_config_path('console')}, if it exists)",
    )
    return parser.parse_args(argv)


def load_settings(args: argparse.Namespace) -> ConsoleSettings:
    """The merged settings; :class:`ConfigError` on a bad file or value."""
    path = Path(args.config) if args.config else default_config_path("console")
    if not args.config and not path.exists():
        path = None  # type: ignore[assignment]
    overrides = {"relay_url": args.relay, "token": args.token}
    return load_console_settings(path, overrides=overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if not settings.token:
        print(
            f"{PROG}: error: no admin token. Make one on the relay host with "
            "'llmcluster-relay token create --user NAME' and pass it as --token or in "
            "LLMCLUSTER_ADMIN_TOKEN.",
            file=sys.stderr,
        )
        return 2
    from console.app import ConsoleApp
    from console.client import AdminClient

    app = ConsoleApp(
        AdminClient(settings.relay_url, settings.token),
        settings.relay_url,
        refresh_interval_s=settings.refresh_interval_s,
    )
    app.run()
    return 0

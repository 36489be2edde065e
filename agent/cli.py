"""``llmcluster-agent``: run the agent, write its config, or show what it detects.

llmcluster-agent run --relay https://relay.example --token llmcn-... [--backend URL]
llmcluster-agent run --config agent.toml
llmcluster-agent init --relay URL --token TOKEN [--config PATH] [--backend URL]
llmcluster-agent detect [--json] [--backend URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config import (
    DEFAULT_SCAN_PORTS,
    AgentSettings,
    ConfigError,
    default_agent_config_path,
    load_agent_settings,
    write_agent_config,
)

PROG = "llmcluster-agent"
EXIT_FATAL = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Share this machine's GPUs with your group through an LLM Cluster relay.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            help="agent TOML (default: the per-user file "
            f"{default_agent_config_path()}, if it exists)",
        )
        p.add_argument(
            "--backend",
            action="append",
            metavar="URL",
            default=None,
            help="a backend's base URL, e.g. http://127.0.0.1:8000/v1 (repeatable)",
        )

    run = sub.add_parser("run", help="connect to the relay and serve requests")
    common(run)
    run.add_argument("--relay", metavar="URL", help="the relay's base URL")
    run.add_argument("--token", help="this node's token (from 'llmcluster-relay node add')")
    run.add_argument("--name", help="node name shown to the group (default: hostname)")
    run.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="allow plain ws:// to a non-loopback relay",
    )
    run.add_argument("--ca-bundle", type=Path, help="PEM bundle of a private CA")
    run.add_argument("--max-concurrency", type=int, help="requests served at once")
    run.add_argument(
        "--no-scan",
        dest="scan",
        action="store_false",
        default=None,
        help="use only the given backends; do not probe local ports",
    )
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    init = sub.add_parser("init", help="write the agent's TOML config")
    common(init)
    init.add_argument("--relay", metavar="URL", required=True)
    init.add_argument("--token", required=True)
    init.add_argument("--name")

    detect = sub.add_parser("detect", help="show the backends, models and GPUs found here")
    common(detect)
    detect.add_argument("--json", action="store_true", help="one JSON object")
    detect.add_argument("--no-scan", dest="scan", action="store_false", default=True)
    return parser


def _backend_overrides(urls: Sequence[str] | None) -> list[dict[str, Any]] | None:
    return [{"url": url} for url in urls] if urls else None


def _config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return Path(args.config)
    default = default_agent_config_path()
    return default if default.exists() else None


def _load(args: argparse.Namespace) -> AgentSettings:
    overrides = {
        "relay_url": getattr(args, "relay", None),
        "token": getattr(args, "token", None),
        "name": getattr(args, "name", None),
        "insecure": getattr(args, "insecure", None),
        "ca_bundle": getattr(args, "ca_bundle", None),
        "max_concurrency": getattr(args, "max_concurrency", None),
        "scan": getattr(args, "scan", None),
        "backends": _backend_overrides(args.backend),
    }
    return load_agent_settings(_config_path(args), overrides=overrides)


def _run(args: argparse.Namespace) -> int:
    from agent.endpoints import TunnelConfigError, relay_endpoints
    from agent.runtime import Agent
    from agent.tunnel import FatalTunnelError

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    settings = _load(args)
    try:
        relay_endpoints(settings.relay_url, insecure=settings.insecure)
    except TunnelConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    agent = Agent(settings)

    async def main() -> int:
        agent.install_signal_handlers()
        try:
            await agent.run()
        except FatalTunnelError as exc:
            logging.getLogger(PROG).error("%s", exc)
            return EXIT_FATAL
        return 0

    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main())
    return uvloop.run(main())


def _init(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else default_agent_config_path()
    values: dict[str, Any] = {"relay_url": args.relay, "token": args.token, "name": args.name}
    if args.backend:
        values["backends"] = _backend_overrides(args.backend)
    write_agent_config(path, values)
    print(f"wrote {path} (mode 0600: it holds the node token)")
    print(
        f"start the agent with: {PROG} run" + ("" if args.config is None else f" --config {path}")
    )
    return 0


def _detect(args: argparse.Namespace) -> int:
    from agent.detect_cmd import run_detect
    from agent.gpu import GpuMonitor

    path = _config_path(args)
    backends = [{"url": u} for u in args.backend or []]
    if path is not None:
        settings = load_agent_settings(path, overrides={"backends": backends or None})
        explicit = [(b.url, b.api_key, b.kind) for b in settings.backends]
        ports = settings.scan_ports
    else:
        explicit = [(b["url"], None, "auto") for b in backends]
        ports = list(DEFAULT_SCAN_PORTS)
    samples = GpuMonitor().poll_once()
    gpus = None if samples is None else [s.to_dict() for s in samples]
    return asyncio.run(
        run_detect(ports=ports, explicit=explicit, scan=args.scan, as_json=args.json, gpus=gpus)
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "init":
            return _init(args)
        return _detect(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tests.bench``: direct backend vs relay + tunnel + agent, side by side.

    python -m tests.bench                  # full run (about a minute or two)
    python -m tests.bench --quick          # smoke run with smaller counts
    python -m tests.bench --scenarios S0,S2 --json results.json

The table goes to stdout, progress to stderr. Exit status 0 even when a target is missed
(it is a benchmark, not a test); 1 when the system under test cannot be started or the
run breaks; 130 on Ctrl-C. Every child process is stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import orjson
import psutil

from tests.bench.cluster import AGENT_MAX_CONCURRENCY, Cluster, SetupError, start_cluster
from tests.bench.load import Target
from tests.bench.procs import MIB, ServerProc, rss_bytes
from tests.bench.report import build_checks, render, to_json
from tests.bench.scenarios import Result, Scenario, measure, scenarios
from tests.bench.spread import render_spread, run_spread

IDLE_SETTLE_S = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke run)")
    parser.add_argument(
        "--scenarios",
        default="S0,S1,S2,S3,S4",
        metavar="LIST",
        help="comma-separated subset of S0,S1,S2,S3,S4 (default: all)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (database, process logs)"
    )
    return parser


def _plan(quick: bool, selection: str) -> list[Scenario]:
    wanted = {key.strip().upper() for key in selection.split(",") if key.strip()} - {"S4"}
    plan = [s for s in scenarios(quick) if s.key in wanted]
    unknown = wanted - {s.key for s in plan}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return plan


def _targets(cluster: Cluster) -> list[Target]:
    headers = {"Authorization": f"Bearer {cluster.api_key}", "Content-Type": "application/json"}
    return [
        Target("direct", cluster.direct_base + "/chat/completions", headers),
        Target("relay", cluster.relay_base + "/chat/completions", headers),
    ]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _run(
    args: argparse.Namespace, plan: list[Scenario], tmp: Path, started: list[ServerProc]
) -> int:
    connector = aiohttp.TCPConnector(limit=2048, limit_per_host=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120, sock_connect=10)
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews figures
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        _progress("starting backend, relay and agent ...")
        try:
            cluster = await start_cluster(tmp, http, started)
        except SetupError as exc:
            _progress(f"setup failed: {exc}")
            return 1
        await asyncio.sleep(IDLE_SETTLE_S)
        idle = {p.name: rss_bytes(p.ps) / MIB for p in cluster.procs}
        procs = {p.name: p.ps for p in cluster.procs}
        procs["client"] = psutil.Process()

        results: dict[str, dict[str, Result]] = {}
        for scenario in plan:
            for target in _targets(cluster):
                _progress(f"{scenario.key} {target.name}: {scenario.describe()}")
                result = await measure(scenario, target, http, procs)
                results.setdefault(scenario.key, {})[target.name] = result
                dead = [p.name for p in cluster.procs if not p.alive()]
                if dead:
                    _progress(
                        f"server process(es) died: {', '.join(dead)}\n"
                        + "\n".join(p.output_tail() for p in cluster.procs if not p.alive())
                    )
                    return 1

        spread = None
        if "S4" in args.scenarios.upper():
            _progress("S4: three agents behind one relay ...")
            try:
                spread = await run_spread(tmp, http, started, quick=args.quick)
            except SetupError as exc:
                _progress(f"S4 setup failed: {exc}")
                return 1

    meta: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": load_at_start,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "agent_max_concurrency": AGENT_MAX_CONCURRENCY,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pids": {p.name: p.pid for p in started},
    }
    checks = build_checks(idle, results)
    if plan:
        print(render(meta, idle, plan, results, checks), flush=True)
    if spread is not None:
        print(render_spread(spread), flush=True)
        meta["S4"] = spread.as_dict()
    if args.json is not None:
        args.json.write_bytes(
            orjson.dumps(to_json(meta, idle, plan, results, checks), option=orjson.OPT_INDENT_2)
        )
        _progress(f"results written to {args.json}")
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up the same way as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit status."""
    args = _parser().parse_args(argv)
    plan = _plan(args.quick, args.scenarios)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="llmcluster-bench-"))
    started: list[ServerProc] = []
    code = 1
    try:
        import uvloop

        code = uvloop.run(_run(args, plan, tmp, started))
    except KeyboardInterrupt:
        _progress("interrupted")
        code = 130
    except Exception:
        traceback.print_exc()
        code = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for proc in reversed(started):
            proc.stop()
        if args.keep or code == 1:
            _progress(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

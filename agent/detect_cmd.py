"""The ``detect`` command: show which backends, models and GPUs the agent would offer.

:func:`run_detect` runs :func:`agent.detect.detect_backends` once and prints either a
plain-text table (columns BACKEND, URL, MODEL, LOADED, then the GPUs) or, with
``as_json``, one JSON object ``{"backends": [...], "gpus": [...]}``. API keys are never
printed. Text that came from an engine is stripped of control characters before it
reaches the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import aiohttp
import orjson

from agent.detect import DetectedBackend, detect_backends

HEADER = ("BACKEND", "URL", "MODEL", "LOADED")
NO_GPU = "no GPU found (CPU-only node)"
GPU_UNKNOWN = "GPU metrics unavailable"
_HINT = "start Ollama, LM Studio or an OpenAI-compatible server, or pass --backend URL."


def _cell(value: object) -> str:
    """A table cell: ``-`` for None, control characters replaced by ``?``."""
    if value is None:
        return "-"
    return "".join(ch if ch.isprintable() else "?" for ch in str(value))


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def backend_rows(backends: Iterable[DetectedBackend]) -> list[tuple[str, str, str, str]]:
    """One row per model (BACKEND, URL, MODEL, LOADED); a backend without models gets
    one row saying why."""
    rows = []
    for b in backends:
        name = _cell(f"{b.kind} {b.version}" if b.version else b.kind)
        url = _cell(b.root_url)
        if not b.reachable:
            rows.append((name, url, "(not answering)", "-"))
        elif not b.models:
            rows.append((name, url, "(no models)", "-"))
        rows.extend((name, url, _cell(m.id), "yes" if m.loaded else "no") for m in b.models)
    return rows


def gpu_lines(gpus: Sequence[dict[str, Any]]) -> list[str]:
    """The GPU section: a table whose columns are the keys the GPU dicts have."""
    if not gpus:
        return [NO_GPU]
    keys: list[str] = []
    for gpu in gpus:
        keys.extend(k for k in gpu if k not in keys)
    rows = [[_cell(k).upper() for k in keys]]
    rows.extend([_cell(gpu.get(k)) for k in keys] for gpu in gpus)
    return _table(rows)


def nothing_found(ports: Sequence[int], host: str, scan: bool) -> str:
    """The line printed when no backend was found."""
    if not scan:
        return f"No backends found (port scan disabled) — {_HINT}"
    listed = ", ".join(str(p) for p in sorted(set(ports)))
    return f"No backends found on {host} ports {listed} — {_HINT}"


async def run_detect(
    *,
    ports: Sequence[int],
    explicit: Sequence[tuple[str, str | None, str]],
    scan: bool,
    as_json: bool,
    gpus: list[dict[str, Any]] | None,
    out: TextIO | None = None,
    host: str = "127.0.0.1",
    timeout: float = 1.0,  # noqa: ASYNC109 - per probe request, not a deadline for the call
) -> int:
    """Detect once and print the result to ``out`` (default: ``sys.stdout`` at call time).

    ``gpus``: the GPUs' sample dicts, ``[]`` for none (a CPU-only node), None when they
    could not be read (``--json`` then shows ``"gpus": null``). Returns the
    exit status: 0, also when nothing was found; 2 for a bad ``--backend`` URL or kind,
    reported on stderr. Safe to cancel (the HTTP session is closed on the way out).
    """
    out = out if out is not None else sys.stdout
    try:
        async with aiohttp.ClientSession() as session:
            backends = await detect_backends(
                session, ports=ports, explicit=explicit, scan=scan, host=host, timeout=timeout
            )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        payload = {"backends": [b.to_dict() for b in backends], "gpus": gpus}
        out.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    rows = backend_rows(backends)
    lines = _table([HEADER, *rows]) if rows else [nothing_found(ports, host, scan)]
    lines += ["", *(gpu_lines(gpus) if gpus is not None else [GPU_UNKNOWN])]
    out.write("\n".join(lines) + "\n")
    return 0

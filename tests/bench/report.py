"""Targets, the plain-text table and the JSON document of one benchmark run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tests.bench.scenarios import Result, Scenario

IDLE_RSS_LIMIT_MB = 100.0
SERVERS = ("relay", "agent", "backend", "client")


@dataclass(frozen=True)
class Check:
    """One target: where it shows in the table, what it demands, and whether it held."""

    scenario: str  # "S0".."S3", or "idle"
    figure: str  # a Result field name, or "relay_rss_mb"
    rule: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


def _ratio(relay: float | None, direct: float | None) -> float | None:
    if relay is None or direct is None or direct == 0:
        return None
    return relay / direct


def build_checks(
    idle_rss_mb: dict[str, float], results: dict[str, dict[str, Result]]
) -> list[Check]:
    """Evaluate every target whose scenario ran."""
    relay_idle = idle_rss_mb.get("relay", 0.0)
    checks = [
        Check(
            "idle", "relay_rss_mb", f"<= {IDLE_RSS_LIMIT_MB:g} MB", relay_idle <= IDLE_RSS_LIMIT_MB
        )
    ]

    def ratio_check(key: str, figure: str, at_least: float) -> None:
        d, r = results[key]["direct"], results[key]["relay"]
        ratio = _ratio(getattr(r, figure), getattr(d, figure))
        checks.append(
            Check(
                key, figure, f">= {at_least:.0%} of direct", ratio is not None and ratio >= at_least
            )
        )

    def added_check(key: str, figure: str, max_ms: float) -> None:
        d, r = getattr(results[key]["direct"], figure), getattr(results[key]["relay"], figure)
        ok = d is not None and r is not None and r - d <= max_ms
        checks.append(Check(key, figure, f"<= direct + {max_ms:g} ms", ok))

    if "S0" in results:
        added_check("S0", "ttft_p50_ms", 2.0)
    if "S1" in results:
        ratio_check("S1", "requests_per_s", 0.15)
    if "S2" in results:
        ratio_check("S2", "tokens_per_s", 0.40)
    if "S3" in results:
        errors = results["S3"]["relay"].errors + results["S3"]["direct"].errors
        checks.append(Check("S3", "errors", "zero errors", errors == 0))
        ratio_check("S3", "tokens_per_s", 0.90)
        added_check("S3", "ttft_p99_ms", 50.0)
    return checks


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _row(
    label: str,
    d: float | None,
    r: float | None,
    *,
    digits: int = 1,
    ratio: bool = True,
    check: Check | None = None,
) -> str:
    rat = _ratio(r, d) if ratio else None
    extra = ""
    if r is not None and d is not None and label.startswith("TTFT"):
        extra = f"  (+{r - d:.2f} ms)" if r >= d else f"  ({r - d:.2f} ms)"
    target = f"{check.rule:<22} {check.verdict}" if check else ""
    return (
        f"  {label:<20}{_fmt(d, digits):>12}{_fmt(r, digits):>12}"
        f"{_fmt(rat, 3) + 'x' if rat is not None else '-':>10}{extra:<14}  {target}"
    ).rstrip()


def render_scenario(s: Scenario, d: Result, r: Result, checks: list[Check]) -> list[str]:
    """The table block of one scenario."""
    by_figure = {c.figure: c for c in checks if c.scenario == s.key}
    lines = [
        f"{s.key}  {s.describe()}",
        f"  {'figure':<20}{'direct':>12}{'relay':>12}{'ratio':>10}{'':<14}  target",
    ]
    lines.append(
        _row(
            "requests/s", d.requests_per_s, r.requests_per_s, check=by_figure.get("requests_per_s")
        )
    )
    if s.stream:
        lines.append(
            _row("tokens/s", d.tokens_per_s, r.tokens_per_s, check=by_figure.get("tokens_per_s"))
        )
        lines.append(
            _row(
                "TTFT p50 ms",
                d.ttft_p50_ms,
                r.ttft_p50_ms,
                digits=2,
                check=by_figure.get("ttft_p50_ms"),
            )
        )
        lines.append(
            _row(
                "TTFT p99 ms",
                d.ttft_p99_ms,
                r.ttft_p99_ms,
                digits=2,
                check=by_figure.get("ttft_p99_ms"),
            )
        )
    lines.append(
        _row("errors", d.errors, r.errors, digits=0, ratio=False, check=by_figure.get("errors"))
    )
    lines.append(_row("wall s", d.wall_s, r.wall_s, digits=2))
    for name in SERVERS:
        lines.append(
            _row(
                f"{name} CPU s",
                d.cpu_s.get(name),
                r.cpu_s.get(name),
                digits=2,
                ratio=name in ("backend", "client"),
            )
        )
    for name in ("relay", "agent"):
        if r.ok and name in r.cpu_s:
            lines.append(_row(f"{name} CPU ms/req", None, r.cpu_s[name] / r.ok * 1000, digits=3))
    for name in ("relay", "agent", "backend"):
        lines.append(_row(f"{name} peak RSS MB", d.peak_rss_mb.get(name), r.peak_rss_mb.get(name)))
    for mode, res in (("direct", d), ("relay", r)):
        if res.error_kinds:
            kinds = ", ".join(f"{k} x{n}" for k, n in sorted(res.error_kinds.items()))
            lines.append(f"  {mode} errors: {kinds}")
    return lines


def render(
    meta: dict[str, Any],
    idle_rss_mb: dict[str, float],
    plan: list[Scenario],
    results: dict[str, dict[str, Result]],
    checks: list[Check],
) -> str:
    """The whole plain-text report."""
    idle_check = next(c for c in checks if c.scenario == "idle")
    lines = [
        f"LLM Cluster benchmark ({meta['mode']} mode): direct backend vs relay + tunnel + agent",
        f"  {meta['cpus']} CPUs shared by client, backend, relay and agent; Python "
        f"{meta['python']}; all on loopback; load avg at start "
        f"{meta['load_avg_1m_at_start']}",
        f"  idle RSS MB: relay {idle_rss_mb.get('relay', 0):.1f}  "
        f"agent {idle_rss_mb.get('agent', 0):.1f}  backend {idle_rss_mb.get('backend', 0):.1f}"
        f"    relay target {idle_check.rule}: {idle_check.verdict}",
        "",
    ]
    for s in plan:
        if s.key in results:
            lines += render_scenario(s, results[s.key]["direct"], results[s.key]["relay"], checks)
            lines.append("")
    missed = [c for c in checks if not c.passed]
    lines.append(
        f"targets: {len(checks) - len(missed)}/{len(checks)} PASS"
        + (f"; MISS: {', '.join(f'{c.scenario} {c.figure}' for c in missed)}" if missed else "")
    )
    return "\n".join(lines)


def to_json(
    meta: dict[str, Any],
    idle_rss_mb: dict[str, float],
    plan: list[Scenario],
    results: dict[str, dict[str, Result]],
    checks: list[Check],
) -> dict[str, Any]:
    """Everything measured, as one JSON-ready document."""
    doc: dict[str, Any] = {"meta": meta, "idle_rss_mb": idle_rss_mb, "scenarios": {}}
    for s in plan:
        if s.key not in results:
            continue
        d, r = results[s.key]["direct"], results[s.key]["relay"]
        figures = ("requests_per_s", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "wall_s")
        doc["scenarios"][s.key] = {
            "params": asdict(s),
            "direct": d.as_dict(),
            "relay": r.as_dict(),
            "ratio_to_direct": {f: _ratio(getattr(r, f), getattr(d, f)) for f in figures},
        }
    doc["targets"] = [{**asdict(c), "verdict": c.verdict} for c in checks]
    return doc

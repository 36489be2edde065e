"""Probes that read GPUs by running the vendor command-line tools.

Used when the libraries are not importable/usable: ``nvidia-smi`` (CSV query mode) and
``rocm-smi`` (JSON mode). The parsers are plain functions so they can be tested on
recorded output. Running a tool is blocking (bounded by ``timeout``); use from a worker
thread. How the tool is run is injectable (``runner``) for tests.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from agent.gpu.sample import MIB, GpuProbeError, GpuSample

NVIDIA_SMI_ARGS = (
    "--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
    "--format=csv,noheader,nounits",
)
ROCM_SMI_ARGS = (
    "--showuse",
    "--showmeminfo",
    "vram",
    "--showtemp",
    "--showpower",
    "--showproductname",
    "--json",
)

_CARD = re.compile(r"card(\d+)$")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished tool run produced."""

    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], float], CommandResult]


def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run ``argv`` (no shell) and capture its output; raise :class:`GpuProbeError` if it
    cannot be started or runs past ``timeout`` seconds (it is then killed)."""
    try:
        done = subprocess.run(  # noqa: S603 - argv is a fixed tool path plus fixed flags
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GpuProbeError(f"could not run {argv[0]}: {exc}") from exc
    return CommandResult(done.returncode, done.stdout, done.stderr)


def _number(text: object) -> float | None:
    """Parse a reading; ``[N/A]``, ``[Not Supported]``, ``N/A`` and junk become ``None``."""
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _mib(value: float | None, divisor: int = 1) -> int | None:
    return int(value) // divisor if value is not None else None


def _first_line(result: CommandResult) -> str:
    text = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return text[0][:200] if text else f"exit status {result.returncode}"


def parse_nvidia_smi_csv(text: str) -> list[GpuSample]:
    """Parse ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` output."""
    samples = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 7:
            raise GpuProbeError(f"unexpected nvidia-smi line: {line[:200]!r}")
        index = _number(fields[0])
        if index is None:
            raise GpuProbeError(f"unexpected nvidia-smi line: {line[:200]!r}")
        util, used, total, temp, power = (_number(f) for f in fields[-5:])
        samples.append(
            GpuSample(
                index=int(index),
                name=", ".join(fields[1:-5]),  # a name with commas spans several fields
                vendor="nvidia",
                utilization_pct=util,
                memory_used_mb=_mib(used),
                memory_total_mb=_mib(total),
                temperature_c=temp,
                power_w=power,
            )
        )
    return samples


def parse_rocm_smi_json(text: str) -> list[GpuSample]:
    """Parse ``rocm-smi ... --json`` output (one ``"cardN"`` object per GPU).

    Tolerates log lines printed around the JSON. Key spellings differ between ROCm
    releases (``Card series``/``Card Series``, average vs. current socket power; MI300
    has no edge sensor), so each reading tries the known variants in turn.
    """
    start, end = text.find("{"), text.rfind("}")
    try:
        data = orjson.loads(text[start : end + 1]) if start >= 0 else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise GpuProbeError("rocm-smi printed no JSON")
    samples = []
    for key, card in data.items():
        match = _CARD.match(key)
        if not match or not isinstance(card, dict):
            continue
        samples.append(
            GpuSample(
                index=int(match.group(1)),
                name=_pick_text(card, "Device Name", "Card series", "Card Series", "Card SKU")
                or "AMD GPU",
                vendor="amd",
                utilization_pct=_pick(card, "GPU use (%)"),
                memory_used_mb=_mib(_pick(card, "VRAM Total Used Memory (B)"), MIB),
                memory_total_mb=_mib(_pick(card, "VRAM Total Memory (B)"), MIB),
                temperature_c=_pick(
                    card, "Temperature (Sensor edge) (C)", "Temperature (Sensor junction) (C)"
                ),
                power_w=_pick(
                    card,
                    "Average Graphics Package Power (W)",
                    "Current Socket Graphics Package Power (W)",
                ),
            )
        )
    return sorted(samples, key=lambda s: s.index)


def _pick(card: dict[str, object], *keys: str) -> float | None:
    for key in keys:
        value = _number(card.get(key))
        if value is not None:
            return value
    return None


def _pick_text(card: dict[str, object], *keys: str) -> str | None:
    for key in keys:
        value = card.get(key)
        if isinstance(value, str) and value.strip() and value.strip() != "N/A":
            return value.strip()
    return None


class NvidiaSmiProbe:
    """Read NVIDIA GPUs by running ``nvidia-smi`` at ``path``."""

    name = "nvidia-smi"

    def __init__(self, path: str, *, runner: Runner = run_command, timeout: float = 10.0) -> None:
        self.path = path
        self._run = runner
        self._timeout = timeout

    def sample(self) -> list[GpuSample]:
        """Run the query once; ``[]`` when the tool reports no devices."""
        result = self._run((self.path, *NVIDIA_SMI_ARGS), self._timeout)
        if "No devices were found" in result.stdout + result.stderr:
            return []
        if result.returncode != 0:
            raise GpuProbeError(f"nvidia-smi failed: {_first_line(result)}")
        return parse_nvidia_smi_csv(result.stdout)

    def close(self) -> None:
        """Nothing to release."""


class RocmSmiProbe:
    """Read AMD GPUs by running ``rocm-smi`` at ``path``.

    rocm-smi may exit non-zero when one of the requested readings is unsupported while
    still printing valid JSON, so the JSON is trusted whenever it parses.
    """

    name = "rocm-smi"

    def __init__(self, path: str, *, runner: Runner = run_command, timeout: float = 10.0) -> None:
        self.path = path
        self._run = runner
        self._timeout = timeout

    def sample(self) -> list[GpuSample]:
        """Run the query once and parse it."""
        result = self._run((self.path, *ROCM_SMI_ARGS), self._timeout)
        try:
            return parse_rocm_smi_json(result.stdout)
        except GpuProbeError:
            if result.returncode != 0:
                raise GpuProbeError(f"rocm-smi failed: {_first_line(result)}") from None
            raise

    def close(self) -> None:
        """Nothing to release."""

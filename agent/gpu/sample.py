"""What one GPU looks like at one moment, and the contract every probe follows.

A :class:`GpuSample` is a plain value (frozen, hashable) that can cross threads freely.
Memory is in MiB (what ``nvidia-smi`` calls MB); any reading a device or driver cannot
give is ``None`` rather than a made-up zero.

A :class:`GpuProbe` reads all GPUs of one vendor through one mechanism (a library or an
executable). Its methods block (they may call into a driver or run a process), so they
belong on a worker thread, never on the event loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

Vendor = Literal["nvidia", "amd"]

MIB = 1024 * 1024


class GpuProbeError(Exception):
    """A probe could not read its GPUs (driver gone, tool failed, unparsable output).

    ``absent`` is true when the mechanism itself is missing (library or driver not
    loadable): the node simply has no GPU of that kind, rather than a broken one.
    """

    def __init__(self, message: str, *, absent: bool = False) -> None:
        super().__init__(message)
        self.absent = absent


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One reading of one GPU; ``None`` means the value is not available."""

    index: int
    name: str
    vendor: Vendor
    utilization_pct: float | None
    memory_used_mb: int | None
    memory_total_mb: int | None
    temperature_c: float | None
    power_w: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the sample as a JSON-ready dict (field names as keys)."""
        return asdict(self)


class GpuProbe(Protocol):
    """Reads the GPUs of one vendor. Blocking; call from a worker thread."""

    name: str

    def sample(self) -> list[GpuSample]:
        """Return one sample per GPU; raise :class:`GpuProbeError` if that is impossible."""
        ...

    def close(self) -> None:
        """Release the library/driver handle; never raises. The probe may be reused."""
        ...

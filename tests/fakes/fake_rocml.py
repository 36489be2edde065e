"""A stand-in for ``pyrsmi.rocml``, for tests without an AMD GPU.

Mirrors pyrsmi 1.1's conventions: ``smi_initialize`` raises when the library/driver is
missing; per-device getters never raise but return ``-1`` (``""`` for the name) when a
reading fails; memory is in bytes, power in watts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeAmdGpu:
    """One fake device; ``-1`` means "reading failed", as rocml reports it."""

    name: str = "AMD Instinct MI100"
    utilization: int = 12
    memory_used: int = 6_750_208
    memory_total: int = 34_342_961_152
    power_w: float = 36.0


class FakeRocml:
    """Pass an instance wherever the ``pyrsmi.rocml`` module is expected."""

    def __init__(self, gpus: list[FakeAmdGpu] | None = None) -> None:
        self.gpus = gpus if gpus is not None else [FakeAmdGpu()]
        self.fail_init: str | None = None
        self.initialized = False

    def smi_initialize(self) -> None:
        if self.fail_init is not None:
            raise RuntimeError(self.fail_init)
        self.initialized = True

    def smi_shutdown(self) -> None:
        self.initialized = False

    def smi_get_device_count(self) -> int:
        return len(self.gpus) if self.initialized else -1

    def smi_get_device_name(self, dev: int) -> str:
        return self.gpus[dev].name

    def smi_get_device_utilization(self, dev: int) -> int:
        return self.gpus[dev].utilization

    def smi_get_device_memory_used(self, dev: int, type: str = "VRAM") -> int:
        return self.gpus[dev].memory_used

    def smi_get_device_memory_total(self, dev: int, type: str = "VRAM") -> int:
        return self.gpus[dev].memory_total

    def smi_get_device_average_power(self, dev: int) -> float:
        return self.gpus[dev].power_w

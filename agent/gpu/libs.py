"""Probes that read GPUs through vendor libraries: NVML (``pynvml``) and AMD's ``rocml``.

Both take the library *module* as an argument, so tests pass a stand-in and production
passes ``pynvml`` / ``pyrsmi.rocml``. The library is initialised lazily on the first
:meth:`sample`; after a failure it is shut down and initialised again on the next call,
which lets the monitor recover from a driver restart.

Blocking (driver calls); use from a worker thread. Not thread-safe: one caller at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from agent.gpu.sample import MIB, GpuProbeError, GpuSample

T = TypeVar("T")


class NvmlProbe:
    """Read NVIDIA GPUs through NVML. ``module`` is ``pynvml`` or a stand-in.

    A reading the device does not support (``NVML_ERROR_NOT_SUPPORTED``, or
    ``NO_PERMISSION``) becomes ``None``; any other NVML error fails the whole sample.
    A failing :meth:`sample` with ``absent`` set means NVML itself could not start
    (no library or no driver), i.e. this is not an NVIDIA node.
    """

    name = "nvml"

    def __init__(self, module: Any) -> None:
        self._nvml = module
        self._ready = False
        self._soft = {
            getattr(module, "NVML_ERROR_NOT_SUPPORTED", 3),
            getattr(module, "NVML_ERROR_NO_PERMISSION", 4),
        }

    def sample(self) -> list[GpuSample]:
        """Return one sample per NVIDIA GPU; raise :class:`GpuProbeError` on failure."""
        nvml = self._nvml
        if not self._ready:
            try:
                nvml.nvmlInit()
            except Exception as exc:
                raise GpuProbeError(f"NVML unavailable: {exc}", absent=True) from exc
            self._ready = True
        try:
            return [self._device(i) for i in range(int(nvml.nvmlDeviceGetCount()))]
        except Exception as exc:
            self.close()
            raise GpuProbeError(f"NVML query failed: {exc}") from exc

    def close(self) -> None:
        """Shut NVML down if it was started; never raises."""
        if self._ready:
            self._ready = False
            with contextlib.suppress(Exception):  # closing is best effort
                self._nvml.nvmlShutdown()

    def _device(self, index: int) -> GpuSample:
        nvml = self._nvml
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        name = nvml.nvmlDeviceGetName(handle)
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        util = self._soft_read(lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
        memory = self._soft_read(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        temp = self._soft_read(
            lambda: float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        )
        power = self._soft_read(lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)
        return GpuSample(
            index=index,
            name=str(name),
            vendor="nvidia",
            utilization_pct=util,
            memory_used_mb=int(memory.used) // MIB if memory is not None else None,
            memory_total_mb=int(memory.total) // MIB if memory is not None else None,
            temperature_c=temp,
            power_w=power,
        )

    def _soft_read(self, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except self._nvml.NVMLError as exc:
            if getattr(exc, "value", None) in self._soft:
                return None
            raise


class RocmlProbe:
    """Read AMD GPUs through ``pyrsmi.rocml`` (``module`` is it, or a stand-in).

    rocml reports an unreadable value as ``-1`` (``""`` for names) instead of raising;
    those become ``None``. It has no temperature call, so ``temperature_c`` is ``None``
    (the ``rocm-smi`` probe does report it).
    """

    name = "rocml"

    def __init__(self, module: Any) -> None:
        self._smi = module
        self._ready = False

    def sample(self) -> list[GpuSample]:
        """Return one sample per AMD GPU; raise :class:`GpuProbeError` on failure."""
        smi = self._smi
        if not self._ready:
            try:
                smi.smi_initialize()
            except Exception as exc:
                raise GpuProbeError(f"rocml unavailable: {exc}", absent=True) from exc
            self._ready = True
        try:
            count = int(smi.smi_get_device_count())
            if count < 0:
                raise GpuProbeError("rocml could not count devices")
            return [self._device(i) for i in range(count)]
        except Exception as exc:
            self.close()
            raise GpuProbeError(f"rocml query failed: {exc}") from exc

    def close(self) -> None:
        """Shut rocml down if it was started; never raises."""
        if self._ready:
            self._ready = False
            with contextlib.suppress(Exception):  # closing is best effort
                self._smi.smi_shutdown()

    def _device(self, index: int) -> GpuSample:
        smi = self._smi
        used = _non_negative(smi.smi_get_device_memory_used(index))
        total = _non_negative(smi.smi_get_device_memory_total(index))
        return GpuSample(
            index=index,
            name=str(smi.smi_get_device_name(index) or "AMD GPU"),
            vendor="amd",
            utilization_pct=_non_negative(smi.smi_get_device_utilization(index)),
            memory_used_mb=int(used) // MIB if used is not None else None,
            memory_total_mb=int(total) // MIB if total is not None else None,
            temperature_c=None,
            power_w=_non_negative(smi.smi_get_device_average_power(index)),
        )


def _non_negative(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)

"""A stand-in for the ``pynvml`` module (nvidia-ml-py), for tests without a GPU.

:class:`FakePynvml` instances expose the functions, constants and error class the agent
uses, with pynvml's names and calling conventions: ``nvmlDeviceGetName`` returns bytes
(as nvidia-ml-py's ctypes binding does; set ``names_as_bytes = False`` for str), memory
is in bytes, power in milliwatts, errors are ``NVMLError(code)`` carrying ``.value``.
Configure it with :class:`FakeGpu` entries and the ``fail_*`` attributes; tests may
change them while a monitor is running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_TEMPERATURE_GPU = 0

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Like ``pynvml.NVMLError``: ``.value`` is the NVML return code."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML error {self.value}")


@dataclass
class FakeGpu:
    """One fake device; a field set to an ``int`` error code makes its getter raise it."""

    name: str = "NVIDIA GeForce RTX 4090"
    utilization: int | None = 37
    memory_used: int = 20456 * 1024 * 1024
    memory_total: int = 24564 * 1024 * 1024
    temperature: int = 61
    power_mw: int = 287_410
    errors: dict[str, int] = field(default_factory=dict)


class FakePynvml:
    """Pass an instance wherever the ``pynvml`` module is expected."""

    NVMLError = NVMLError
    NVML_SUCCESS = NVML_SUCCESS
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NO_PERMISSION = NVML_ERROR_NO_PERMISSION
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_GPU_IS_LOST = NVML_ERROR_GPU_IS_LOST
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU

    def __init__(self, gpus: list[FakeGpu] | None = None) -> None:
        self.gpus = gpus if gpus is not None else [FakeGpu()]
        self.fail_init: int | None = None
        """Error code ``nvmlInit`` raises (e.g. ``NVML_ERROR_LIBRARY_NOT_FOUND``)."""
        self.fail_count: int | None = None
        """Error code ``nvmlDeviceGetCount`` raises (e.g. ``NVML_ERROR_GPU_IS_LOST``)."""
        self.names_as_bytes = True
        """Older nvidia-ml-py returns names as bytes, newer ones as str."""
        self.initialized = False
        self.init_calls = 0
        self.shutdown_calls = 0

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.fail_init is not None:
            raise NVMLError(self.fail_init)
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1
        self.initialized = False

    def _check(self) -> None:
        if not self.initialized:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        if self.fail_count is not None:
            raise NVMLError(self.fail_count)
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check()
        return self.gpus[index]

    def _get(self, gpu: FakeGpu, what: str) -> None:
        self._check()
        if what in gpu.errors:
            raise NVMLError(gpu.errors[what])

    def nvmlDeviceGetName(self, handle: FakeGpu) -> bytes | str:
        self._get(handle, "name")
        return handle.name.encode() if self.names_as_bytes else handle.name

    def nvmlDeviceGetUtilizationRates(self, handle: FakeGpu) -> SimpleNamespace:
        self._get(handle, "utilization")
        return SimpleNamespace(gpu=handle.utilization, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu) -> SimpleNamespace:
        self._get(handle, "memory")
        free = handle.memory_total - handle.memory_used
        return SimpleNamespace(total=handle.memory_total, free=free, used=handle.memory_used)

    def nvmlDeviceGetTemperature(self, handle: FakeGpu, sensor: int) -> int:
        self._get(handle, "temperature")
        assert sensor == NVML_TEMPERATURE_GPU
        return handle.temperature

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:
        self._get(handle, "power")
        return handle.power_mw

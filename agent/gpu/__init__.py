"""GPU metrics for the agent: which GPUs a node has and how busy they are.

:func:`detect_probe` picks how to read the GPUs (NVML, AMD's rocml, ``nvidia-smi`` or
``rocm-smi``, in that order; ``None`` on a CPU-only node) and :class:`GpuMonitor`
samples it on a background thread. Nothing here touches the event loop: read
:meth:`GpuMonitor.latest` from anywhere, it never blocks for long.
"""

from __future__ import annotations

from agent.gpu.detect import detect_probe
from agent.gpu.libs import NvmlProbe, RocmlProbe
from agent.gpu.monitor import GpuMonitor
from agent.gpu.sample import GpuProbe, GpuProbeError, GpuSample
from agent.gpu.smi import NvidiaSmiProbe, RocmSmiProbe

__all__ = [
    "GpuMonitor",
    "GpuProbe",
    "GpuProbeError",
    "GpuSample",
    "NvidiaSmiProbe",
    "NvmlProbe",
    "RocmSmiProbe",
    "RocmlProbe",
    "detect_probe",
]

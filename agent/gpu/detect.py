"""Choose how this node's GPUs are read.

:func:`detect_probe` tries, in order: NVML (``pynvml``), AMD rocml (``pyrsmi.rocml``),
``nvidia-smi``, ``rocm-smi``. The first that reads at least one GPU wins. If none does,
a mechanism that exists but fails (a tool that errors, a library that starts but cannot
query) is returned anyway, so the monitor reports "metrics unavailable" and keeps
retrying; when nothing exists at all the node is CPU-only and the result is ``None``.

Every source is injectable (modules, ``which``, the command runner, the importer) for
tests. Blocking (loads libraries, may run tools); call from a worker thread.
"""

from __future__ import annotations

import importlib
import logging
import shutil
from collections.abc import Callable, Iterator
from typing import Any

from agent.gpu.libs import NvmlProbe, RocmlProbe
from agent.gpu.sample import GpuProbe, GpuProbeError
from agent.gpu.smi import NvidiaSmiProbe, RocmSmiProbe, Runner, run_command

log = logging.getLogger(__name__)


def _import_or_none(import_module: Callable[[str], Any], name: str) -> Any:
    try:
        return import_module(name)
    except Exception:  # ImportError, or a broken install raising anything at import
        log.debug("GPU library %s not importable", name, exc_info=True)
        return None


def _candidates(
    nvml_module: Any,
    rocml_module: Any,
    which: Callable[[str], str | None],
    runner: Runner,
    import_module: Callable[[str], Any],
) -> Iterator[GpuProbe]:
    nvml = nvml_module if nvml_module is not None else _import_or_none(import_module, "pynvml")
    if nvml is not None:
        yield NvmlProbe(nvml)
    rocml = (
        rocml_module if rocml_module is not None else _import_or_none(import_module, "pyrsmi.rocml")
    )
    if rocml is not None:
        yield RocmlProbe(rocml)
    path = which("nvidia-smi")
    if path:
        yield NvidiaSmiProbe(path, runner=runner)
    path = which("rocm-smi")
    if path:
        yield RocmSmiProbe(path, runner=runner)


def detect_probe(
    *,
    nvml_module: Any = None,
    rocml_module: Any = None,
    which: Callable[[str], str | None] = shutil.which,
    runner: Runner = run_command,
    import_module: Callable[[str], Any] = importlib.import_module,
) -> GpuProbe | None:
    """Return the probe to use for this node's GPUs, or ``None`` on a CPU-only node.

    ``nvml_module``/``rocml_module`` default to importing ``pynvml``/``pyrsmi.rocml``
    through ``import_module``. Never raises.
    """
    broken: GpuProbe | None = None
    for probe in _candidates(nvml_module, rocml_module, which, runner, import_module):
        try:
            samples = probe.sample()
        except GpuProbeError as exc:
            probe.close()
            if exc.absent:
                log.debug("GPU probe %s: %s", probe.name, exc)
            else:
                log.info("GPU probe %s present but failing: %s", probe.name, exc)
                broken = broken or probe
            continue
        except Exception:
            probe.close()
            log.warning("GPU probe %s crashed during detection", probe.name, exc_info=True)
            broken = broken or probe
            continue
        if samples:
            log.info("GPU metrics via %s (%d GPU(s))", probe.name, len(samples))
            return probe
        probe.close()
    if broken is not None:
        log.warning("GPU metrics unavailable: %s is present but failing", broken.name)
    else:
        log.info("No GPU found; this is a CPU-only node")
    return broken

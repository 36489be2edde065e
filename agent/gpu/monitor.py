"""Background sampling of GPU metrics, off the event loop.

:class:`GpuMonitor` owns one daemon thread that detects the probe (see
:func:`agent.gpu.detect.detect_probe`) and then samples it every ``interval`` seconds.
Other threads and the asyncio loop read the most recent result with :meth:`latest`,
which only takes a lock for a moment. A probe failure never escapes: it is logged once,
``latest()`` turns ``None`` ("metrics unavailable"), and sampling goes on so the monitor
recovers by itself when the driver comes back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent.gpu.detect import detect_probe
from agent.gpu.sample import GpuProbe, GpuSample

log = logging.getLogger(__name__)


class GpuMonitor:
    """Sample GPUs on a background thread; read results from anywhere.

    ``probe_factory`` is called once, on the monitor thread, to pick the probe (``None``
    means a CPU-only node: ``latest()`` is then ``[]``). :meth:`start` returns at once;
    :meth:`stop` blocks until the thread ended (up to ``timeout``), so from async code
    call it through ``asyncio.to_thread``.
    """

    def __init__(
        self,
        *,
        probe_factory: Callable[[], GpuProbe | None] = detect_probe,
        interval: float = 5.0,
    ) -> None:
        self._factory = probe_factory
        self._interval = interval
        self._probe: GpuProbe | None = None
        self._detected = False
        self._failing = False
        self._cond = threading.Condition()
        self._latest: list[GpuSample] | None = None
        self._count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        """True when the last sampling succeeded (a CPU-only node counts as available)."""
        with self._cond:
            return self._latest is not None

    @property
    def sample_count(self) -> int:
        """How many sampling rounds have completed (successful or not)."""
        with self._cond:
            return self._count

    @property
    def probe_name(self) -> str | None:
        """Name of the probe in use (``"nvml"``, ``"nvidia-smi"``...), ``None`` if none."""
        return self._probe.name if self._probe is not None else None

    def latest(self) -> list[GpuSample] | None:
        """Return the last samples (a new list), ``[]`` for no GPU, ``None`` if unavailable."""
        with self._cond:
            return list(self._latest) if self._latest is not None else None

    def wait_for_sample(self, after: int = 0, timeout: float | None = None) -> bool:
        """Block until more than ``after`` rounds completed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count > after, timeout)

    def start(self) -> None:
        """Start the sampling thread; raises RuntimeError if it is already running."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("GpuMonitor already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end and join it (blocking, at most ``timeout`` s). Idempotent."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("GPU monitor thread did not stop within %.1fs", timeout)
            else:
                self._thread = None

    def poll_once(self) -> list[GpuSample] | None:
        """Run one sampling round in the calling thread (blocking) and publish it."""
        if not self._detected:
            try:
                self._probe = self._factory()
            except Exception:
                self._note_failure("GPU probe detection failed")
                return self._publish(None)
            self._detected = True
        if self._probe is None:
            return self._publish([])
        try:
            samples = self._probe.sample()
        except Exception:
            self._note_failure(f"GPU metrics unavailable ({self._probe.name})")
            return self._publish(None)
        if self._failing:
            self._failing = False
            log.info("GPU metrics available again (%s)", self._probe.name)
        return self._publish(samples)

    def _note_failure(self, what: str) -> None:
        if not self._failing:
            self._failing = True
            log.warning("%s; will keep retrying", what, exc_info=True)
        else:
            log.debug("%s (still failing)", what, exc_info=True)

    def _publish(self, samples: list[GpuSample] | None) -> list[GpuSample] | None:
        with self._cond:
            self._latest = list(samples) if samples is not None else None
            self._count += 1
            self._cond.notify_all()
        return samples

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.poll_once()
                if self._stop.wait(self._interval):
                    break
        finally:
            probe, self._probe, self._detected = self._probe, None, False
            if probe is not None:
                try:
                    probe.close()
                except Exception:
                    log.debug("closing GPU probe failed", exc_info=True)

"""The benchmark's child processes and their resource accounting.

:class:`ServerProc` runs one server (backend, relay or agent) as a child process with its
output in a log file; :class:`Sampler` measures CPU seconds (user + system) and peak RSS of
a set of processes over one scenario, sampling memory in a background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psutil

MIB = 1024 * 1024
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: have Linux send SIGTERM if the benchmark dies first."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProc:
    """A server started as a child process in its own session (Ctrl-C reaches only us)."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            args,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.ps = psutil.Process(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output_tail(self, chars: int = 3000) -> str:
        """The end of the process's captured output (for setup failures)."""
        if not self._out.closed:
            self._out.flush()
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``. Idempotent."""
        try:
            if self.popen.poll() is None:
                self.popen.terminate()
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(5)
        finally:
            if not self._out.closed:
                self._out.close()


def cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU time of a process so far."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def rss_bytes(proc: psutil.Process) -> int:
    """Resident set size of a process now (0 if it is gone)."""
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


@dataclass
class Usage:
    """What a :class:`Sampler` measured, per process name."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)


class Sampler:
    """``async with Sampler(procs) as usage:`` — CPU delta and peak RSS over the block.

    RSS is read every ``interval_s`` by a background task (and once at entry and exit), so
    short peaks between samples can be missed; CPU times are exact deltas.
    """

    def __init__(self, procs: Mapping[str, psutil.Process], interval_s: float = 0.05) -> None:
        self._procs = dict(procs)
        self._interval = interval_s
        self._cpu0: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.usage = Usage()

    def _sample(self) -> None:
        peaks = self.usage.peak_rss
        for name, proc in self._procs.items():
            peaks[name] = max(peaks.get(name, 0), rss_bytes(proc))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._sample()

    async def __aenter__(self) -> Usage:
        self._cpu0 = {name: cpu_seconds(p) for name, p in self._procs.items()}
        self._sample()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self.usage

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()
        for name, proc in self._procs.items():
            with contextlib.suppress(psutil.Error):
                self.usage.cpu_s[name] = cpu_seconds(proc) - self._cpu0[name]

"""GpuMonitor: background thread, thread-safe hand-off, failure and recovery."""

from __future__ import annotations

import logging
import threading

import pytest

from agent.gpu import GpuMonitor, GpuSample, NvmlProbe
from tests.fakes import fake_pynvml as nv
from tests.fakes.fake_pynvml import FakeGpu, FakePynvml

WAIT = 5.0


class RecordingProbe(NvmlProbe):
    """An NVML probe that remembers which threads sampled it."""

    def __init__(self, module: FakePynvml) -> None:
        super().__init__(module)
        self.threads: set[str] = set()

    def sample(self) -> list[GpuSample]:
        self.threads.add(threading.current_thread().name)
        return super().sample()


@pytest.fixture
def fake() -> FakePynvml:
    return FakePynvml([FakeGpu(), FakeGpu(name="NVIDIA A100-SXM4-80GB", utilization=5)])


def test_latest_is_none_before_first_sample(fake: FakePynvml) -> None:
    monitor = GpuMonitor(probe_factory=lambda: NvmlProbe(fake))
    assert monitor.latest() is None
    assert not monitor.available


def test_thread_samples_and_updates(fake: FakePynvml) -> None:
    probe = RecordingProbe(fake)
    monitor = GpuMonitor(probe_factory=lambda: probe, interval=0.01)
    monitor.start()
    try:
        assert monitor.wait_for_sample(timeout=WAIT)
        first = monitor.latest()
        assert first is not None and [s.utilization_pct for s in first] == [37.0, 5.0]
        assert monitor.available and monitor.probe_name == "nvml"
        fake.gpus[0].utilization = 99
        seen = monitor.sample_count
        assert monitor.wait_for_sample(after=seen, timeout=WAIT)
        latest = monitor.latest()
        assert latest is not None and latest[0].utilization_pct == 99.0
    finally:
        monitor.stop()
    assert probe.threads == {"gpu-monitor"}
    assert fake.shutdown_calls == 1  # the probe is closed when the thread ends
    assert monitor.probe_name is None


def test_latest_returns_a_copy(fake: FakePynvml) -> None:
    monitor = GpuMonitor(probe_factory=lambda: NvmlProbe(fake))
    monitor.poll_once()
    got = monitor.latest()
    assert got is not None
    got.clear()
    assert len(monitor.latest() or []) == 2


def test_cpu_only_node_reports_empty_list() -> None:
    monitor = GpuMonitor(probe_factory=lambda: None, interval=0.01)
    monitor.start()
    try:
        assert monitor.wait_for_sample(timeout=WAIT)
        assert monitor.latest() == []
        assert monitor.available
    finally:
        monitor.stop()


def test_failing_probe_is_unavailable_logged_once_and_recovers(
    fake: FakePynvml, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent.gpu")
    fake.fail_count = nv.NVML_ERROR_GPU_IS_LOST
    monitor = GpuMonitor(probe_factory=lambda: NvmlProbe(fake), interval=0.01)
    monitor.start()
    try:
        assert monitor.wait_for_sample(after=3, timeout=WAIT)
        assert monitor.latest() is None
        assert not monitor.available
        assert monitor._thread is not None and monitor._thread.is_alive()
        fake.fail_count = None
        seen = monitor.sample_count
        assert monitor.wait_for_sample(after=seen + 1, timeout=WAIT)
        assert monitor.available
    finally:
        monitor.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "GPU metrics unavailable (nvml)" in warnings[0].getMessage()
    assert any("available again" in r.getMessage() for r in caplog.records)


def test_detection_crash_is_contained() -> None:
    calls = 0

    def factory() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")

    monitor = GpuMonitor(probe_factory=factory)
    assert monitor.poll_once() is None
    assert not monitor.available
    assert monitor.poll_once() == []  # detection is retried on the next round
    assert monitor.available


def test_start_twice_raises_and_stop_is_idempotent(fake: FakePynvml) -> None:
    monitor = GpuMonitor(probe_factory=lambda: NvmlProbe(fake), interval=0.01)
    monitor.stop()  # not started: no-op
    monitor.start()
    try:
        with pytest.raises(RuntimeError):
            monitor.start()
    finally:
        monitor.stop()
        monitor.stop()
    monitor.start()  # can be restarted after a stop
    assert monitor.wait_for_sample(after=monitor.sample_count, timeout=WAIT)
    monitor.stop()


def test_stop_interrupts_a_long_interval(fake: FakePynvml) -> None:
    monitor = GpuMonitor(probe_factory=lambda: NvmlProbe(fake), interval=3600)
    monitor.start()
    assert monitor.wait_for_sample(timeout=WAIT)
    monitor.stop(timeout=WAIT)
    assert monitor._thread is None

"""Probe selection order: NVML, rocml, nvidia-smi, rocm-smi, else CPU-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.gpu import NvidiaSmiProbe, NvmlProbe, RocmlProbe, RocmSmiProbe, detect_probe
from tests.agent.gpu.helpers import no_import, only
from tests.fakes import fake_pynvml as nv
from tests.fakes.fake_pynvml import FakePynvml
from tests.fakes.fake_rocml import FakeRocml


def missing_nvml() -> FakePynvml:
    fake = FakePynvml()
    fake.fail_init = nv.NVML_ERROR_LIBRARY_NOT_FOUND
    return fake


def missing_rocml() -> FakeRocml:
    fake = FakeRocml()
    fake.fail_init = "AMD SMI library not found"
    return fake


def test_nvml_wins_when_it_works() -> None:
    probe = detect_probe(
        nvml_module=FakePynvml(), rocml_module=FakeRocml(), which=only("nvidia-smi", "rocm-smi")
    )
    assert isinstance(probe, NvmlProbe)
    assert len(probe.sample()) == 1


def test_rocml_is_second() -> None:
    probe = detect_probe(nvml_module=missing_nvml(), rocml_module=FakeRocml(), which=only())
    assert isinstance(probe, RocmlProbe)


def test_nvml_missing_falls_back_to_nvidia_smi(fake_bin: Path) -> None:
    probe = detect_probe(
        nvml_module=missing_nvml(),
        rocml_module=missing_rocml(),
        which=only("nvidia-smi", "rocm-smi"),
    )
    assert isinstance(probe, NvidiaSmiProbe)
    assert [s.index for s in probe.sample()] == [0, 1]


def test_libraries_not_installed_falls_back_to_rocm_smi(fake_bin: Path) -> None:
    probe = detect_probe(import_module=no_import, which=only("rocm-smi"))
    assert isinstance(probe, RocmSmiProbe)


def test_nvidia_smi_without_devices_tries_rocm_smi(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", "nodevices")
    probe = detect_probe(import_module=no_import, which=only("nvidia-smi", "rocm-smi"))
    assert isinstance(probe, RocmSmiProbe)


def test_nothing_means_cpu_only() -> None:
    assert detect_probe(import_module=no_import, which=only()) is None


def test_no_devices_anywhere_means_cpu_only(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", "nodevices")
    empty = FakePynvml([])
    assert (
        detect_probe(nvml_module=empty, import_module=no_import, which=only("nvidia-smi")) is None
    )
    assert empty.shutdown_calls == 1


def test_present_but_failing_tool_is_returned_so_metrics_show_unavailable(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", "fail")
    probe = detect_probe(import_module=no_import, which=only("nvidia-smi"))
    assert isinstance(probe, NvidiaSmiProbe)


def test_working_probe_beats_an_earlier_failing_one(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", "fail")
    probe = detect_probe(import_module=no_import, which=only("nvidia-smi", "rocm-smi"))
    assert isinstance(probe, RocmSmiProbe)


def test_default_imports_are_pynvml_and_rocml() -> None:
    asked: list[str] = []

    def importer(name: str) -> object:
        asked.append(name)
        raise ImportError(name)

    assert detect_probe(import_module=importer, which=only()) is None
    assert asked == ["pynvml", "pyrsmi.rocml"]


def test_crashing_import_does_not_escape() -> None:
    def importer(name: str) -> object:
        raise OSError("broken install")

    assert detect_probe(import_module=importer, which=only()) is None

"""nvidia-smi / rocm-smi probes: parsers on recorded output and the fake executables."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from agent.gpu import GpuProbeError, GpuSample, NvidiaSmiProbe, RocmSmiProbe
from agent.gpu.smi import parse_nvidia_smi_csv, parse_rocm_smi_json, run_command

NVIDIA_TWO = [
    GpuSample(0, "NVIDIA GeForce RTX 4090", "nvidia", 37.0, 20456, 24564, 61.0, 287.41),
    GpuSample(1, "NVIDIA A100-SXM4-80GB", "nvidia", None, 4, 81920, 33.0, None),
]
AMD_TWO = [
    GpuSample(0, "Arcturus GL-XL [Instinct MI100]", "amd", 12.0, 6, 32752, 53.0, 36.0),
    GpuSample(1, "AMD Instinct MI300X", "amd", None, 284, 196592, 41.0, None),
]


def test_parse_nvidia_csv_handles_na_and_commas_in_names() -> None:
    text = "0, Tesla T4, [N/A], 0, 15360, [Unknown Error], 9.87\n\n1, Weird, Name, 5, 1, 2, 3, 4\n"
    assert parse_nvidia_smi_csv(text) == [
        GpuSample(0, "Tesla T4", "nvidia", None, 0, 15360, None, 9.87),
        GpuSample(1, "Weird, Name", "nvidia", 5.0, 1, 2, 3.0, 4.0),
    ]


@pytest.mark.parametrize("text", ["this is not csv", "x, a, 1, 2, 3, 4, 5"])
def test_parse_nvidia_csv_rejects_garbage(text: str) -> None:
    with pytest.raises(GpuProbeError):
        parse_nvidia_smi_csv(text)


def test_parse_rocm_json_without_cards_is_empty() -> None:
    assert parse_rocm_smi_json('{"system": {"Driver version": "6.7.0"}}') == []


def test_parse_rocm_json_rejects_non_json() -> None:
    with pytest.raises(GpuProbeError):
        parse_rocm_smi_json("ERROR: something")


def test_nvidia_smi_probe_parses_fake_tool(fake_bin: Path) -> None:
    path = shutil.which("nvidia-smi")
    assert path == str(fake_bin / "nvidia-smi")
    assert NvidiaSmiProbe(path).sample() == NVIDIA_TWO


def test_nvidia_smi_without_devices_is_empty(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", "nodevices")
    assert NvidiaSmiProbe(str(fake_bin / "nvidia-smi")).sample() == []


@pytest.mark.parametrize("mode", ["fail", "garbage"])
def test_nvidia_smi_failures_raise_probe_error(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", mode)
    with pytest.raises(GpuProbeError) as info:
        NvidiaSmiProbe(str(fake_bin / "nvidia-smi")).sample()
    assert not info.value.absent
    if mode == "fail":
        assert "couldn't communicate with the NVIDIA driver" in str(info.value)


@pytest.mark.parametrize("mode", ["ok", "warn"])
def test_rocm_smi_probe_parses_fake_tool(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FAKE_ROCM_SMI_MODE", mode)
    assert RocmSmiProbe(str(fake_bin / "rocm-smi")).sample() == AMD_TWO


def test_rocm_smi_failure_raises_probe_error(
    fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ROCM_SMI_MODE", "fail")
    with pytest.raises(GpuProbeError, match="Driver not initialized"):
        RocmSmiProbe(str(fake_bin / "rocm-smi")).sample()


def test_run_command_timeout_and_missing_tool() -> None:
    with pytest.raises(GpuProbeError):
        run_command([sys.executable, "-c", "import time; time.sleep(5)"], 0.2)
    with pytest.raises(GpuProbeError):
        run_command(["/nonexistent/nvidia-smi"], 1.0)

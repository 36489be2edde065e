"""NVML and rocml probes, driven through the fake library modules."""

from __future__ import annotations

import pytest

from agent.gpu import GpuProbeError, GpuSample, NvmlProbe, RocmlProbe
from tests.fakes import fake_pynvml as nv
from tests.fakes.fake_pynvml import FakeGpu, FakePynvml
from tests.fakes.fake_rocml import FakeAmdGpu, FakeRocml

MIB = 1024 * 1024


def two_gpus() -> FakePynvml:
    return FakePynvml(
        [
            FakeGpu(),
            FakeGpu(
                name="NVIDIA A100-SXM4-80GB",
                utilization=0,
                memory_used=4 * MIB,
                memory_total=81920 * MIB,
                temperature=33,
                power_mw=0,
                errors={
                    "power": nv.NVML_ERROR_NOT_SUPPORTED,
                    "utilization": nv.NVML_ERROR_NO_PERMISSION,
                },
            ),
        ]
    )


def test_nvml_reads_two_gpus_with_unsupported_fields() -> None:
    probe = NvmlProbe(two_gpus())
    assert probe.sample() == [
        GpuSample(0, "NVIDIA GeForce RTX 4090", "nvidia", 37.0, 20456, 24564, 61.0, 287.41),
        GpuSample(1, "NVIDIA A100-SXM4-80GB", "nvidia", None, 4, 81920, 33.0, None),
    ]


def test_nvml_initialises_once_and_shuts_down_on_close() -> None:
    fake = two_gpus()
    probe = NvmlProbe(fake)
    probe.sample()
    probe.sample()
    assert fake.init_calls == 1
    probe.close()
    probe.close()
    assert fake.shutdown_calls == 1


def test_nvml_missing_library_is_reported_as_absent() -> None:
    fake = FakePynvml()
    fake.fail_init = nv.NVML_ERROR_LIBRARY_NOT_FOUND
    with pytest.raises(GpuProbeError) as info:
        NvmlProbe(fake).sample()
    assert info.value.absent
    assert "NVML Shared Library Not Found" in str(info.value)


def test_nvml_hard_error_fails_sample_then_recovers() -> None:
    fake = two_gpus()
    probe = NvmlProbe(fake)
    fake.fail_count = nv.NVML_ERROR_GPU_IS_LOST
    with pytest.raises(GpuProbeError) as info:
        probe.sample()
    assert not info.value.absent
    assert fake.shutdown_calls == 1  # shut down so the next call starts NVML afresh
    fake.fail_count = None
    assert len(probe.sample()) == 2
    assert fake.init_calls == 2


def test_nvml_unexpected_field_error_fails_the_sample() -> None:
    fake = FakePynvml([FakeGpu(errors={"memory": nv.NVML_ERROR_UNKNOWN})])
    with pytest.raises(GpuProbeError):
        NvmlProbe(fake).sample()


def test_nvml_name_may_be_str() -> None:
    fake = FakePynvml([FakeGpu(name="NVIDIA H200")])
    fake.names_as_bytes = False
    assert NvmlProbe(fake).sample()[0].name == "NVIDIA H200"


def test_rocml_reads_gpus_and_maps_minus_one_to_none() -> None:
    fake = FakeRocml(
        [
            FakeAmdGpu(),
            FakeAmdGpu(name="", utilization=-1, memory_used=-1, memory_total=-1, power_w=-1),
        ]
    )
    assert RocmlProbe(fake).sample() == [
        GpuSample(0, "AMD Instinct MI100", "amd", 12.0, 6, 32752, None, 36.0),
        GpuSample(1, "AMD GPU", "amd", None, None, None, None, None),
    ]


def test_rocml_init_failure_is_absent() -> None:
    fake = FakeRocml()
    fake.fail_init = "AMD SMI library (libamd_smi.so) not found"
    with pytest.raises(GpuProbeError) as info:
        RocmlProbe(fake).sample()
    assert info.value.absent


def test_sample_to_dict() -> None:
    sample = GpuSample(0, "X", "nvidia", None, 1, 2, 3.5, None)
    assert sample.to_dict() == {
        "index": 0,
        "name": "X",
        "vendor": "nvidia",
        "utilization_pct": None,
        "memory_used_mb": 1,
        "memory_total_mb": 2,
        "temperature_c": 3.5,
        "power_w": None,
    }

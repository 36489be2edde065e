"""The ``detect`` command's table and JSON output."""

from __future__ import annotations

import io

import orjson
import pytest

from agent.detect_cmd import GPU_UNKNOWN, NO_GPU, run_detect
from agent.sim.lmstudio import LMStudioModel, LMStudioState, SimulatedLMStudio
from agent.sim.ollama import OllamaState, SimulatedOllama

from .conftest import Starter

GPU = {
    "index": 0,
    "name": "NVIDIA RTX 4090",
    "vendor": "nvidia",
    "memory_total_mb": 24564,
    "temperature_c": None,
}


async def two_backends(start: Starter[SimulatedOllama]) -> tuple[int, int]:
    ollama = await start(
        SimulatedOllama(OllamaState(models=["llama3.2", "qwen2.5:7b"], loaded=["qwen2.5:7b"]))
    )
    catalog = [LMStudioModel("phi-4", state="loaded")]
    lms = await start(SimulatedLMStudio(LMStudioState(catalog=catalog)))  # type: ignore[arg-type]
    return ollama.port, lms.port


async def test_table(start: Starter[SimulatedOllama], dead_port: int) -> None:
    ollama_port, lms_port = await two_backends(start)
    out = io.StringIO()
    status = await run_detect(
        ports=[ollama_port, lms_port],
        explicit=[(f"http://127.0.0.1:{dead_port}", "s3cret", "vllm")],
        scan=True,
        as_json=False,
        gpus=[GPU],
        out=out,
    )
    assert status == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["BACKEND", "URL", "MODEL", "LOADED"]
    rows = [line.split() for line in lines[1:5]]
    assert rows[0] == ["vllm", f"http://127.0.0.1:{dead_port}", "(not", "answering)", "-"]
    ollama_rows = [
        ["ollama", "0.5.7", f"http://127.0.0.1:{ollama_port}", "llama3.2:latest", "no"],
        ["ollama", "0.5.7", f"http://127.0.0.1:{ollama_port}", "qwen2.5:7b", "yes"],
    ]
    lms_rows = [["lmstudio", f"http://127.0.0.1:{lms_port}", "phi-4", "yes"]]
    # Explicit backends first, then the scanned ones by port.
    scanned = ollama_rows + lms_rows if ollama_port < lms_port else lms_rows + ollama_rows
    assert rows[1:] == scanned
    assert lines[5] == ""
    assert lines[6].split() == ["INDEX", "NAME", "VENDOR", "MEMORY_TOTAL_MB", "TEMPERATURE_C"]
    assert lines[7].split() == ["0", "NVIDIA", "RTX", "4090", "nvidia", "24564", "-"]
    assert "s3cret" not in out.getvalue()


async def test_json(start: Starter[SimulatedOllama]) -> None:
    ollama_port, lms_port = await two_backends(start)
    out = io.StringIO()
    assert (
        await run_detect(
            ports=[lms_port, ollama_port], explicit=[], scan=True, as_json=True, gpus=[GPU], out=out
        )
        == 0
    )
    data = orjson.loads(out.getvalue())
    assert set(data) == {"backends", "gpus"} and data["gpus"] == [GPU]
    by_port = sorted([(lms_port, "lmstudio"), (ollama_port, "ollama")])
    assert [b["kind"] for b in data["backends"]] == [kind for _, kind in by_port]
    (ollama,) = [b for b in data["backends"] if b["kind"] == "ollama"]
    assert [(m["id"], m["loaded"]) for m in ollama["models"]] == [
        ("llama3.2:latest", False),
        ("qwen2.5:7b", True),
    ]
    assert ollama["openai_base"] == f"http://127.0.0.1:{ollama_port}/v1"
    assert ollama["has_api_key"] is False and "api_key" not in ollama


async def test_nothing_found(dead_port: int) -> None:
    out = io.StringIO()
    assert (
        await run_detect(
            ports=[dead_port, 1], explicit=[], scan=True, as_json=False, gpus=[], out=out
        )
        == 0
    )
    text = out.getvalue()
    assert text.startswith(
        f"No backends found on 127.0.0.1 ports 1, {dead_port} — start "
        "Ollama, LM Studio or an OpenAI-compatible server, or pass "
        "--backend URL.\n"
    )
    assert NO_GPU in text
    out = io.StringIO()
    assert (
        await run_detect(
            ports=[dead_port], explicit=[], scan=True, as_json=True, gpus=None, out=out
        )
        == 0
    )
    assert orjson.loads(out.getvalue()) == {"backends": [], "gpus": None}


async def test_gpus_unknown_and_scan_off(dead_port: int) -> None:
    out = io.StringIO()
    await run_detect(ports=[dead_port], explicit=[], scan=False, as_json=False, gpus=None, out=out)
    assert out.getvalue().splitlines() == [
        "No backends found (port scan disabled) — start Ollama, LM Studio or an "
        "OpenAI-compatible server, or pass --backend URL.",
        "",
        GPU_UNKNOWN,
    ]


async def test_bad_backend_url(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert (
        await run_detect(
            ports=[],
            explicit=[("ftp://x", None, "auto")],
            scan=False,
            as_json=False,
            gpus=None,
            out=out,
        )
        == 2
    )
    assert out.getvalue() == ""
    assert "error: backend URL must start with http" in capsys.readouterr().err

"""The official ``openai`` SDK streams chat from each engine sim's ``base_url``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openai import AsyncOpenAI

from agent.sim._common import EngineSim
from agent.sim.llamacpp import SimulatedLlamaCpp
from agent.sim.lmstudio import LMStudioState, SimulatedLMStudio
from agent.sim.ollama import OllamaState, SimulatedOllama
from agent.sim.vllm import SimulatedVLLM


@pytest.mark.parametrize(
    "make",
    [
        lambda: SimulatedLMStudio(LMStudioState(models=["m"], omit_done=True)),
        lambda: SimulatedLlamaCpp(),
        lambda: SimulatedVLLM(),
        lambda: SimulatedOllama(OllamaState(models=["m"])),
    ],
    ids=["lmstudio", "llamacpp", "vllm", "ollama"],
)
async def test_sdk_streams_chat(make: Callable[[], EngineSim]) -> None:
    sim = make()
    await sim.start()
    model = sim.state.models[0]
    try:
        client = AsyncOpenAI(base_url=sim.base_url, api_key="x", max_retries=0)
        stream = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = chunk.usage or usage
        await client.close()
    finally:
        await sim.stop()
    assert text == "w0 w1 w2 w3 "
    assert usage is not None and usage.completion_tokens == 4
    assert sim.state.requests[-1].headers["Authorization"] == "Bearer x"

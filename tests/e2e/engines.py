"""The simulated engines the end-to-end tests run against, one of each kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.sim._common import EngineSim
from agent.sim.llamacpp import LlamaCppState, SimulatedLlamaCpp
from agent.sim.lmstudio import LMStudioModel, LMStudioState, SimulatedLMStudio
from agent.sim.ollama import OllamaState, SimulatedOllama
from agent.sim.vllm import SimulatedVLLM, VLLMState


@dataclass
class Engine:
    name: str
    model: str
    make: Callable[[], EngineSim]


ENGINES = [
    Engine(
        "ollama",
        "llama3.1:8b",
        lambda: SimulatedOllama(
            OllamaState(models=["llama3.1:8b", "nomic-embed-text"], loaded=["llama3.1:8b"])
        ),
    ),
    Engine(
        "lmstudio",
        "meta-llama-3.1-8b-instruct",
        lambda: SimulatedLMStudio(
            LMStudioState(
                catalog=[
                    LMStudioModel("meta-llama-3.1-8b-instruct", state="loaded"),
                    LMStudioModel("qwen2.5-7b-instruct", state="not-loaded"),
                ]
            )
        ),
    ),
    Engine(
        "llamacpp",
        "llama-3.1-8b",
        lambda: SimulatedLlamaCpp(LlamaCppState(models=["llama-3.1-8b"])),
    ),
    Engine(
        "vllm",
        "meta-llama/Llama-3.1-8B-Instruct",
        lambda: SimulatedVLLM(VLLMState(models=["meta-llama/Llama-3.1-8B-Instruct"])),
    ),
]

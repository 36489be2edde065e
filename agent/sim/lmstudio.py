"""A simulated LM Studio server: its REST API v0 (``/api/v0``) and OpenAI-compatible ``/v1``.

Shapes follow LM Studio's "REST API v0" docs (lmstudio-ai/docs,
``1_developer/2_rest/endpoints.md``):

* ``GET /api/v0/models`` -> ``{"object": "list", "data": [...]}``, each model with
  ``id, object, type ("llm" | "vlm" | "embeddings"), publisher, arch,
  compatibility_type, quantization, state ("loaded" | "not-loaded"),
  max_context_length``; ``GET /api/v0/models/{id}`` -> one of them;
* ``POST /api/v0/chat/completions`` and ``/api/v0/completions``: the OpenAI answer plus
  ``stats``, ``model_info`` and ``runtime``; ``POST /api/v0/embeddings``;
* ``/v1/models`` (``owned_by: "organization_owner"``), ``/v1/chat/completions``,
  ``/v1/completions``, ``/v1/embeddings``: the OpenAI sim's.

Like LM Studio, any path it does not serve answers **200** with
``{"error": "Unexpected endpoint or method. (GET /path)"}``, and a request for a model
that is not loaded loads it (just-in-time loading, ``jit_load``; with it off,
``/v1/models`` lists only loaded models and others are refused).

Quirk switches, for the stream normalizer's tests: ``omit_done`` ends streams without
``data: [DONE]``; ``always_usage`` sends the usage chunk even when not asked for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent.sim._common import SSE, EngineSim, delays, json_response, stream_lines
from agent.sim.openai import SimState, _full_answer, _stream_events


@dataclass
class LMStudioModel:
    """One downloaded model, as ``/api/v0/models`` describes it."""

    id: str
    type: str = "llm"
    publisher: str = "lmstudio-community"
    arch: str = "llama"
    compatibility_type: str = "gguf"
    quantization: str = "Q4_K_M"
    state: str = "not-loaded"
    max_context_length: int = 131072

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "type": self.type,
            "publisher": self.publisher,
            "arch": self.arch,
            "compatibility_type": self.compatibility_type,
            "quantization": self.quantization,
            "state": self.state,
            "max_context_length": self.max_context_length,
        }


@dataclass
class LMStudioState(SimState):
    """Downloaded models (``catalog``; built from ``models``, all loaded, when not
    given) and the quirk switches. Use :meth:`load` / :meth:`unload` to change state."""

    catalog: list[LMStudioModel] | None = None
    omit_done: bool = False
    always_usage: bool = False
    jit_load: bool = True

    def __post_init__(self) -> None:
        if self.catalog is None:
            self.catalog = [LMStudioModel(name, state="loaded") for name in self.models]
        self.sync()

    @property
    def downloaded(self) -> list[LMStudioModel]:
        return self.catalog or []

    def sync(self) -> None:
        """Recompute ``models`` (what ``/v1`` serves) after changing ``catalog``."""
        self.models = [m.id for m in self.downloaded if self.jit_load or m.state == "loaded"]

    def find(self, model_id: str) -> LMStudioModel | None:
        return next((m for m in self.downloaded if m.id == model_id), None)

    def load(self, model_id: str) -> None:
        self._set(model_id, "loaded")

    def unload(self, model_id: str) -> None:
        self._set(model_id, "not-loaded")

    def _set(self, model_id: str, state: str) -> None:
        model = self.find(model_id)
        if model is not None:
            model.state = state
        self.sync()


class SimulatedLMStudio(EngineSim):
    """The server. ``root_url`` is LM Studio's root (``/api/v0``); ``base_url`` its ``/v1``."""

    state: LMStudioState

    def __init__(self, state: LMStudioState | None = None, *, api_key: str | None = None) -> None:
        super().__init__(state or LMStudioState(), api_key=api_key)
        r = self.app.router
        r.add_get("/api/v0/models", self._v0_models)
        r.add_get("/api/v0/models/{model:.+}", self._v0_model)
        r.add_post("/api/v0/chat/completions", self._v0_chat)
        r.add_post("/api/v0/completions", self._v0_completions)
        r.add_post("/api/v0/embeddings", self._embeddings)
        r.add_route("*", "/{tail:.*}", self._unexpected)  # last: what nothing else serves

    async def _unexpected(self, request: web.Request) -> web.Response:
        message = f"Unexpected endpoint or method. ({request.method} {request.path})"
        return json_response({"error": message})

    async def _v0_models(self, request: web.Request) -> web.Response:
        data = [m.to_dict() for m in self.state.downloaded]
        return json_response({"object": "list", "data": data})

    async def _v0_model(self, request: web.Request) -> web.Response:
        model = self.state.find(request.match_info["model"])
        if model is None:
            return json_response({"error": f"Model {request.match_info['model']} not found"}, 404)
        return json_response(model.to_dict())

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "owned_by": "organization_owner"}
            for m in self.state.models
        ]
        return json_response({"data": data, "object": "list"})

    async def _read(self, request: web.Request) -> dict[str, Any] | web.Response:
        body = await super()._read(request)
        if isinstance(body, dict):
            self.state.load(body["model"])  # just-in-time loading
        return body

    async def _v0_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._v0_generate(request, chat=True)

    async def _v0_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._v0_generate(request, chat=False)

    async def _v0_generate(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        self.state.in_flight += 1
        try:
            if body.get("stream"):
                return await self._stream(request, body, chat=chat)
            answer = _full_answer(body, chat)
            model = self.state.find(body["model"])
            n = answer["usage"]["completion_tokens"]
            answer["stats"] = {
                "tokens_per_second": 50.0,
                "time_to_first_token": 0.1,
                "generation_time": n / 50.0,
                "stop_reason": "maxPredictedTokensReached",
            }
            answer["model_info"] = {
                "arch": model.arch if model else "llama",
                "quant": model.quantization if model else "Q4_K_M",
                "format": "gguf",
                "context_length": 4096,
            }
            answer["runtime"] = {
                "name": "llama.cpp-linux-x86_64-nvidia-cuda-avx2",
                "version": "1.3.0",
                "supported_formats": ["gguf"],
            }
            return json_response(answer)
        except asyncio.CancelledError:
            self._note_disconnect()
            raise
        finally:
            self.state.in_flight -= 1

    async def _stream(
        self, request: web.Request, body: dict[str, Any], *, chat: bool
    ) -> web.StreamResponse:
        if self.state.always_usage:
            options = {**(body.get("stream_options") or {}), "include_usage": True}
            body = {**body, "stream_options": options}
        events = _stream_events(body, chat)
        if not self.state.omit_done:
            events.append(b"data: [DONE]\n\n")
        delay, first_delay = delays(body, self.state)
        # The caller (_generate / _v0_generate) counts a cancellation already.
        return await stream_lines(
            self,
            request,
            events,
            content_type=SSE,
            delay=delay,
            first_delay=first_delay,
            count_cancel=False,
        )

"""A simulated llama.cpp server (``llama-server``): ``/props``, ``/health`` and ``/v1``.

Shapes follow llama.cpp's ``tools/server/README.md``:

* ``GET /health`` (and ``/v1/health``) -> ``{"status": "ok"}``, or 503
  ``{"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}``
  while ``loading``; public even when an API key is set;
* ``GET /props`` -> ``default_generation_settings`` (``n_ctx``, ``params``, ...),
  ``total_slots``, ``model_path``, ``chat_template``, ``modalities``, ``build_info``;
* ``GET /v1/models`` -> one entry a model with ``owned_by: "llamacpp"``, ``created``,
  ``architecture`` and ``meta`` (``vocab_type, n_vocab, n_ctx_train, n_embd, n_params,
  size``); ``meta`` is null while loading;
* ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``: the OpenAI sim's.

``state.models`` holds the model ids (what ``--alias`` sets; llama.cpp's default id is
the model path). With ``api_key`` set, every path but the health checks needs
``Authorization: Bearer <key>`` and a wrong one gets llama.cpp's 401 body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent.sim._common import EngineSim, json_response
from agent.sim.openai import SimState

_PUBLIC = frozenset({"/health", "/v1/health"})


@dataclass
class LlamaCppState(SimState):
    """What ``/props`` reports besides the model ids in ``models``."""

    model_path: str = "/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    total_slots: int = 4
    n_ctx: int = 8192
    build_info: str = "b4500-adc5f0f0"
    chat_template: str = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    loading: bool = False


def _error(status: int, message: str, kind: str) -> web.Response:
    return json_response({"error": {"code": status, "message": message, "type": kind}}, status)


class SimulatedLlamaCpp(EngineSim):
    """The server. ``root_url`` is the server root; ``base_url`` (``/v1``) its OpenAI API."""

    state: LlamaCppState

    def __init__(self, state: LlamaCppState | None = None, *, api_key: str | None = None) -> None:
        super().__init__(state or LlamaCppState(), api_key=api_key)
        r = self.app.router
        r.add_get("/health", self._health)
        r.add_get("/v1/health", self._health)
        r.add_get("/props", self._props)

    def _protected(self, path: str) -> bool:
        return path not in _PUBLIC

    def _unauthorized(self) -> web.StreamResponse:
        return _error(401, "Invalid API Key", "authentication_error")

    async def _health(self, request: web.Request) -> web.Response:
        if self.state.loading:
            return _error(503, "Loading model", "unavailable_error")
        return json_response({"status": "ok"})

    async def _props(self, request: web.Request) -> web.Response:
        s = self.state
        params: dict[str, Any] = {
            "n_predict": -1,
            "seed": 4294967295,
            "temperature": 0.800000011920929,
            "top_k": 40,
            "top_p": 0.949999988079071,
            "min_p": 0.05000000074505806,
            "repeat_last_n": 64,
            "repeat_penalty": 1.0,
            "stop": [],
            "max_tokens": -1,
            "n_keep": 0,
            "ignore_eos": False,
            "stream": True,
            "n_probs": 0,
            "samplers": ["dry", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature"],
        }
        settings = {
            "id": 0,
            "id_task": -1,
            "n_ctx": s.n_ctx,
            "speculative": False,
            "is_processing": False,
            "params": params,
            "prompt": "",
            "next_token": {
                "has_next_token": True,
                "has_new_line": False,
                "n_remain": -1,
                "n_decoded": 0,
                "stopping_word": "",
            },
        }
        return json_response(
            {
                "default_generation_settings": settings,
                "total_slots": s.total_slots,
                "model_path": s.model_path,
                "chat_template": s.chat_template,
                "chat_template_caps": {},
                "modalities": {"vision": False},
                "build_info": s.build_info,
                "is_sleeping": False,
            }
        )

    async def _models(self, request: web.Request) -> web.Response:
        meta = (
            None
            if self.state.loading
            else {
                "vocab_type": 2,
                "n_vocab": 128256,
                "n_ctx_train": 131072,
                "n_embd": 4096,
                "n_params": 8030261312,
                "size": 4912898304,
            }
        )
        data = [
            {
                "id": m,
                "object": "model",
                "created": 1735142223,
                "owned_by": "llamacpp",
                "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                "meta": meta,
            }
            for m in self.state.models
        ]
        return json_response({"object": "list", "data": data})

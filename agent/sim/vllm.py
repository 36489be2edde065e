"""A simulated vLLM OpenAI-compatible server: ``/version``, ``/health`` and ``/v1``.

Shapes follow vLLM's ``vllm/entrypoints/openai/api_server.py`` and its ``ModelCard``:

* ``GET /version`` -> ``{"version": "0.6.4.post1"}``;
* ``GET /health`` -> 200 with an empty body;
* ``GET /v1/models`` -> ``{"object": "list", "data": [{"id", "object": "model",
  "created", "owned_by": "vllm", "root", "parent": null, "max_model_len",
  "permission": [{... "object": "model_permission" ...}]}]}``;
* ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``: the OpenAI sim's.

``state.models`` holds the served model names (``--served-model-name``); ``root`` is the
model they were loaded from (same name unless ``roots`` says otherwise). With
``api_key`` set, only paths under ``/v1`` need it, and a wrong one gets vLLM's
``401 {"error": "Unauthorized"}``, as vLLM's authentication middleware does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aiohttp import web

from agent.sim._common import EngineSim, json_response
from agent.sim.openai import SimState


@dataclass
class VLLMState(SimState):
    """The version and context length ``/version`` and ``/v1/models`` report."""

    version: str = "0.6.4.post1"
    max_model_len: int = 32768
    roots: dict[str, str] = field(default_factory=dict)


class SimulatedVLLM(EngineSim):
    """The server. ``root_url`` is the server root; ``base_url`` (``/v1``) its OpenAI API."""

    state: VLLMState

    def __init__(self, state: VLLMState | None = None, *, api_key: str | None = None) -> None:
        super().__init__(state or VLLMState(), api_key=api_key)
        self.app.router.add_get("/version", self._version)
        self.app.router.add_get("/health", self._health)

    def _protected(self, path: str) -> bool:
        return path.startswith("/v1")

    def _unauthorized(self) -> web.StreamResponse:
        return json_response({"error": "Unauthorized"}, 401)

    async def _version(self, request: web.Request) -> web.Response:
        return json_response({"version": self.state.version})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _models(self, request: web.Request) -> web.Response:
        created = 1732268408
        data = []
        for name in self.state.models:
            perm_id = hashlib.sha256(name.encode()).hexdigest()[:32]
            permission = {
                "id": f"modelperm-{perm_id}",
                "object": "model_permission",
                "created": created,
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
            data.append(
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "vllm",
                    "root": self.state.roots.get(name, name),
                    "parent": None,
                    "max_model_len": self.state.max_model_len,
                    "permission": [permission],
                }
            )
        return json_response({"object": "list", "data": data})

"""A simulated Ollama server: its native ``/api`` and its OpenAI-compatible ``/v1``.

The native endpoints answer in the shapes of Ollama's ``docs/api.md``:

* ``GET /api/version`` -> ``{"version": "0.5.7"}``; ``GET /`` -> ``Ollama is running``;
* ``GET /api/tags`` -> ``{"models": [{name, model, modified_at, size, digest, details}]}``
  (``details``: parent_model, format, family, families, parameter_size,
  quantization_level);
* ``GET /api/ps`` -> the loaded ones, each with ``expires_at``, ``size_vram`` and
  ``context_length`` too;
* ``POST /api/chat`` and ``POST /api/generate`` stream NDJSON by default (one JSON
  object a line, ``application/x-ndjson``); ``"stream": false`` gives one object. The
  last object has ``done: true``, ``done_reason`` and the counters ``total_duration``,
  ``load_duration``, ``prompt_eval_count``, ``prompt_eval_duration``, ``eval_count``,
  ``eval_duration`` (nanoseconds). Given ``tools``, chat answers
  ``message.tool_calls = [{"function": {"name": <first tool>, "arguments":
  {"city": "Paris"}}}]`` (arguments an object, not a JSON string as in OpenAI's API).
  An empty ``messages`` (chat) or ``prompt`` (generate) loads the model
  (``done_reason: "load"``), or unloads it with ``keep_alive: 0`` (``"unload"``);
* ``POST /api/embed`` -> ``{"model", "embeddings": [[...], ...], ...}``;
* errors are ``{"error": "..."}``: 400 for a bad body or no model, 404
  ``model "x" not found, try pulling it first`` for a model it does not have.

Answers are the OpenAI sim's: ``options.num_predict`` words (default 16), ``"w0 w1 ..."``.
Any request naming a model loads it (it shows up in ``/api/ps``), as Ollama does.
Names without a tag mean ``:latest``. The ``/v1`` endpoints are the OpenAI sim's.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from agent.sim._common import NDJSON, EngineSim, delays, json_response, stream_lines
from agent.sim.openai import RecordedRequest, SimState, _prompt_tokens, _vector, _words

_NS_PER_TOKEN = 20_000_000  # 20 ms a token, for the simulated duration counters


def qualify(name: str) -> str:
    """Ollama's default tag: ``llama3.2`` -> ``llama3.2:latest``."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


@dataclass
class OllamaModel:
    """One pulled model, as ``/api/tags`` describes it."""

    name: str
    family: str = "llama"
    parameter_size: str = "8.0B"
    quantization_level: str = "Q4_K_M"
    size: int = 4_920_753_328
    context_length: int = 4096
    modified_at: str = "2024-12-07T09:32:18.757212583-08:00"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


@dataclass
class OllamaState(SimState):
    """The pulled models (``catalog``; built from ``models`` when not given) and the
    loaded ones (``loaded``, names). Change them with :meth:`load` / :meth:`unload` /
    :meth:`pull` so ``models`` (what the ``/v1`` API accepts) stays in step."""

    catalog: list[OllamaModel] | None = None
    loaded: list[str] = field(default_factory=list)
    version: str = "0.5.7"
    keep_alive_s: int = 300
    expires: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.catalog is None:
            self.catalog = [OllamaModel(qualify(name)) for name in self.models]
        self.loaded = [qualify(name) for name in self.loaded]
        self._sync()

    def _sync(self) -> None:
        names = [m.name for m in self.pulled]
        short = [n.removesuffix(":latest") for n in names if n.endswith(":latest")]
        self.models = names + short
        for name in self.loaded:
            self.expires.setdefault(name, self._expiry())

    def _expiry(self) -> str:
        return (datetime.now().astimezone() + timedelta(seconds=self.keep_alive_s)).isoformat()

    @property
    def pulled(self) -> list[OllamaModel]:
        return self.catalog or []

    def find(self, name: str) -> OllamaModel | None:
        return next((m for m in self.pulled if m.name == qualify(name)), None)

    def pull(self, model: OllamaModel) -> None:
        self.pulled.append(model)
        self._sync()

    def load(self, name: str) -> None:
        name = qualify(name)
        if name not in self.loaded:
            self.loaded.append(name)
        self.expires[name] = self._expiry()

    def unload(self, name: str) -> None:
        name = qualify(name)
        if name in self.loaded:
            self.loaded.remove(name)
        self.expires.pop(name, None)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


def _is_zero(keep_alive: object) -> bool:
    return keep_alive in (0, "0", "0s", "0m", "0h")


def _stats(body: dict[str, Any], n: int) -> dict[str, int]:
    prompt = _prompt_tokens(body)
    return {
        "total_duration": (prompt + n) * _NS_PER_TOKEN + 5_000_000,
        "load_duration": 5_000_000,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": prompt * _NS_PER_TOKEN,
        "eval_count": n,
        "eval_duration": n * _NS_PER_TOKEN,
    }


def _tool_call(body: dict[str, Any]) -> dict[str, Any]:
    name = body["tools"][0]["function"]["name"]
    return {"function": {"name": name, "arguments": {"city": "Paris"}}}


class SimulatedOllama(EngineSim):
    """The server. ``root_url`` is Ollama's root (native ``/api``); ``base_url`` its ``/v1``.

    Ollama has no API keys; ``api_key`` stands for an authenticating proxy in front of it.
    """

    state: OllamaState

    def __init__(self, state: OllamaState | None = None, *, api_key: str | None = None) -> None:
        super().__init__(state or OllamaState(), api_key=api_key)
        r = self.app.router
        r.add_get("/", self._root)
        r.add_get("/api/version", self._version)
        r.add_get("/api/tags", self._tags)
        r.add_get("/api/ps", self._ps)
        r.add_post("/api/chat", self._chat_native)
        r.add_post("/api/generate", self._generate_native)
        r.add_post("/api/embed", self._embed)

    def _unauthorized(self) -> web.StreamResponse:
        return _error(401, "unauthorized")

    # -- listing -------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        return json_response({"version": self.state.version})

    def _entry(self, m: OllamaModel) -> dict[str, Any]:
        return {
            "name": m.name,
            "model": m.name,
            "modified_at": m.modified_at,
            "size": m.size,
            "digest": m.digest,
            "details": m.details(),
        }

    async def _tags(self, request: web.Request) -> web.Response:
        return json_response({"models": [self._entry(m) for m in self.state.pulled]})

    async def _ps(self, request: web.Request) -> web.Response:
        running = []
        for name in self.state.loaded:
            m = self.state.find(name)
            if m is None:
                continue
            entry = {k: v for k, v in self._entry(m).items() if k != "modified_at"}
            running.append(
                {
                    **entry,
                    "expires_at": self.state.expires.get(name, ""),
                    "size_vram": m.size,
                    "context_length": m.context_length,
                }
            )
        return json_response({"models": running})

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"id": m.name, "object": "model", "created": 1733592738, "owned_by": "library"}
            for m in self.state.pulled
        ]
        return json_response({"object": "list", "data": data})

    # -- generation ----------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The parsed, recorded body with ``model`` qualified, or Ollama's error answer."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "invalid character in request body")
        if not isinstance(body, dict):
            return _error(400, "json: cannot unmarshal into Go value of type api.Request")
        if self.state.record:
            self.state.requests.append(RecordedRequest(request.path, dict(request.headers), body))
        if not isinstance(body.get("model"), str) or not body["model"]:
            return _error(400, "model is required")
        if self.state.find(body["model"]) is None:
            return _error(404, f'model "{body["model"]}" not found, try pulling it first')
        status = body.get("sim_status")
        if isinstance(status, int) and status >= 400:
            return _error(status, f"simulated failure {status}")
        body["model"] = qualify(body["model"])
        return body

    def _load_or_unload(self, body: dict[str, Any], base: dict[str, Any]) -> web.Response:
        if _is_zero(body.get("keep_alive")):
            self.state.unload(body["model"])
            return json_response({**base, "done_reason": "unload", "done": True})
        self.state.load(body["model"])
        return json_response({**base, "done_reason": "load", "done": True})

    async def _chat_native(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        base = {"model": body["model"], "created_at": _now()}
        if not body.get("messages"):
            return self._load_or_unload(
                body, {**base, "message": {"role": "assistant", "content": ""}}
            )
        if body.get("tools"):
            pieces: list[dict[str, Any]] = [
                {"role": "assistant", "content": "", "tool_calls": [_tool_call(body)]}
            ]
        else:
            pieces = [{"role": "assistant", "content": w} for w in self._words(body)]
        return await self._answer(request, body, base, "message", pieces)

    async def _generate_native(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        base = {"model": body["model"], "created_at": _now()}
        if not body.get("prompt"):
            return self._load_or_unload(body, {**base, "response": ""})
        return await self._answer(request, body, base, "response", self._words(body))

    def _words(self, body: dict[str, Any]) -> list[str]:
        n = (body.get("options") or {}).get("num_predict")
        return _words(n if isinstance(n, int) and n > 0 else 16)

    async def _answer(
        self,
        request: web.Request,
        body: dict[str, Any],
        base: dict[str, Any],
        key: str,
        pieces: list[Any],
    ) -> web.StreamResponse:
        """One answer, NDJSON-streamed unless ``stream`` is false; ``pieces`` are the
        successive values of ``key`` (``message`` or ``response``)."""
        self.state.load(body["model"])
        n = len(pieces)
        explicit = isinstance((body.get("options") or {}).get("num_predict"), int)
        reason = "length" if explicit and not body.get("tools") else "stop"
        empty: Any = {"role": "assistant", "content": ""} if key == "message" else ""
        final = {**base, key: empty, "done_reason": reason, "done": True}
        if key == "response":
            final["context"] = [1, 2, 3]
        final.update(_stats(body, n))
        token_delay, first_delay = delays(body, self.state)
        self.state.in_flight += 1
        try:
            if body.get("stream", True) is False:
                if key == "message":
                    text = "".join(p["content"] for p in pieces)
                    final[key] = {**pieces[0], "content": text} if pieces else empty
                else:
                    final[key] = "".join(pieces)
                if first_delay:
                    await asyncio.sleep(first_delay)
                return json_response(final)
            lines = [orjson.dumps({**base, key: p, "done": False}) + b"\n" for p in pieces]
            lines.append(orjson.dumps(final) + b"\n")
            return await stream_lines(
                self,
                request,
                lines,
                content_type=NDJSON,
                delay=token_delay,
                first_delay=first_delay,
                count_cancel=False,
            )
        except asyncio.CancelledError:
            self._note_disconnect()
            raise
        finally:
            self.state.in_flight -= 1

    async def _embed(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        self.state.load(body["model"])
        inputs = body.get("input", "")
        items = inputs if isinstance(inputs, list) else [inputs]
        tokens = sum(max(1, len(str(t).split())) for t in items)
        return json_response(
            {
                "model": body["model"],
                "embeddings": [_vector(str(t)) for t in items],
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": tokens,
            }
        )

"""OpenAI request -> Ollama native request (``/api/chat``, ``/api/generate``, ``/api/embed``).

:func:`plan_request` validates an OpenAI body and returns an :class:`OllamaPlan`: where to
POST, the exact Ollama payload, and what the response translators need to know. The
mapping follows Ollama's own compatibility layer (``openai/openai.go``) where sensible:
``max_tokens`` -> ``options.num_predict``, ``stop`` always a list, ``response_format`` ->
``format``, tool-call arguments parsed from JSON strings into objects. Unlike Ollama's
layer it does not force ``temperature``/``top_p`` to 1.0 when absent, so the model's own
defaults (from its Modelfile) apply.

Pure and synchronous; safe to call anywhere and to abandon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from agent.translate.errors import TranslationError
from agent.translate.ollama_messages import convert_messages

Kind = Literal["chat", "completion", "embeddings"]

ROUTES: dict[str, tuple[str, Kind]] = {
    "/v1/chat/completions": ("/api/chat", "chat"),
    "/v1/completions": ("/api/generate", "completion"),
    "/v1/embeddings": ("/api/embed", "embeddings"),
}

_NUMBER_OPTIONS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")


@dataclass(frozen=True, slots=True)
class OllamaPlan:
    """A translated request: POST ``payload`` to ``path`` on the Ollama backend.

    ``model`` is the model the client named (echoed in responses), ``stream`` whether the
    client wants SSE, ``include_usage`` its ``stream_options.include_usage`` and
    ``encoding_format`` (embeddings only) ``"float"`` or ``"base64"``.
    """

    path: str
    payload: bytes
    stream: bool
    model: str
    include_usage: bool
    kind: Kind
    encoding_format: str = "float"


def plan_request(route: str, body: bytes) -> OllamaPlan:
    """Translate the OpenAI request ``body`` sent to ``route``.

    Raises :class:`TranslationError` (status 400, or 404 for an unknown route) when the
    body is not valid JSON, misses a required field, or asks for something Ollama cannot
    do (remote image URLs, ``n`` > 1, token-id prompts).
    """
    target = ROUTES.get(route)
    if target is None:
        raise TranslationError(404, f"Unknown route {route!r} for an Ollama backend")
    path, kind = target
    try:
        req = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(400, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(req, dict):
        raise TranslationError(400, "Request body must be a JSON object")
    model = req.get("model")
    if not isinstance(model, str) or not model:
        raise TranslationError(400, "you must provide a model parameter", "model")

    if kind == "embeddings":
        payload, encoding = _embed_payload(req, model)
        return OllamaPlan(path, orjson.dumps(payload), False, model, False, kind, encoding)

    stream = req.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise TranslationError(400, "'stream' must be a boolean", "stream")
    stream_options = req.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise TranslationError(400, "'stream_options' must be an object", "stream_options")
    include_usage = stream and stream_options.get("include_usage") is True
    n = req.get("n")
    if n is not None and n != 1:
        raise TranslationError(400, "Only n=1 is supported by this backend", "n")

    out: dict[str, Any] = {"model": model}
    if kind == "chat":
        out["messages"] = convert_messages(req.get("messages"))
        tools = _tools(req)
        if tools:
            out["tools"] = tools
    else:
        out["prompt"] = _prompt(req.get("prompt"))
        suffix = req.get("suffix")
        if suffix is not None:
            if not isinstance(suffix, str):
                raise TranslationError(400, "'suffix' must be a string", "suffix")
            out["suffix"] = suffix
    fmt = _format(req.get("response_format"))
    if fmt is not None:
        out["format"] = fmt
    options = _options(req)
    if options:
        out["options"] = options
    out["stream"] = stream
    return OllamaPlan(path, orjson.dumps(out), stream, model, include_usage, kind)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _options(req: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name in _NUMBER_OPTIONS:
        value = req.get(name)
        if value is None:
            continue
        if not _is_number(value):
            raise TranslationError(400, f"'{name}' must be a number", name)
        options[name] = value
    for name in ("max_completion_tokens", "max_tokens"):
        value = req.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TranslationError(400, f"'{name}' must be a positive integer", name)
        options.setdefault("num_predict", value)
    seed = req.get("seed")
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TranslationError(400, "'seed' must be an integer", "seed")
        options["seed"] = seed
    stop = req.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        if not all(isinstance(s, str) for s in stop):
            raise TranslationError(400, "'stop' must be a string or a list of strings", "stop")
        if stop:
            options["stop"] = stop
    elif stop is not None:
        raise TranslationError(400, "'stop' must be a string or a list of strings", "stop")
    return options


def _format(response_format: object) -> object | None:
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise TranslationError(400, "'response_format' must be an object", "response_format")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise TranslationError(
                400,
                "'response_format.json_schema.schema' must be a JSON schema object",
                "response_format.json_schema.schema",
            )
        return schema
    raise TranslationError(
        400, f"Unsupported response_format type {kind!r}", "response_format.type"
    )


def _tools(req: dict[str, Any]) -> list[Any] | None:
    tools = req.get("tools")
    if tools is None or req.get("tool_choice") == "none":
        return None
    if not isinstance(tools, list) or not all(
        isinstance(t, dict) and isinstance(t.get("function"), dict) for t in tools
    ):
        raise TranslationError(400, "'tools' must be a list of function tools", "tools")
    return tools


def _prompt(prompt: object) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    raise TranslationError(
        400, "'prompt' must be a string (or a list of exactly one string)", "prompt"
    )


def _embed_payload(req: dict[str, Any], model: str) -> tuple[dict[str, Any], str]:
    data = req.get("input")
    if isinstance(data, str):
        inputs: str | list[str] = data
    elif isinstance(data, list) and data and all(isinstance(s, str) for s in data):
        inputs = data
    else:
        raise TranslationError(
            400, "'input' must be a string or a non-empty list of strings", "input"
        )
    encoding = req.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise TranslationError(
            400, "'encoding_format' must be 'float' or 'base64'", "encoding_format"
        )
    payload: dict[str, Any] = {"model": model, "input": inputs}
    dimensions = req.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
            raise TranslationError(400, "'dimensions' must be a positive integer", "dimensions")
        payload["dimensions"] = dimensions
    return payload, encoding

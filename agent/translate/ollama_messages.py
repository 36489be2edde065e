"""OpenAI chat ``messages`` -> Ollama ``/api/chat`` messages.

Differences handled here:

* content given as a list of parts: text parts are joined with ``\\n``; ``image_url``
  parts must be ``data:`` URLs with base64 content and go to the message's ``images``
  list (Ollama wants raw base64, it never fetches URLs, so an http(s) URL is a 400);
* ``developer`` messages become ``system`` (Ollama has no developer role);
* assistant ``tool_calls`` carry ``arguments`` as a JSON *string* in OpenAI and as an
  *object* in Ollama;
* ``tool`` messages name the tool through ``tool_call_id``; Ollama wants ``tool_name``,
  resolved from the earlier assistant call with that id (last one wins, like Ollama).

Pure; safe to call anywhere.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from agent.translate.errors import TranslationError

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def convert_messages(messages: object) -> list[dict[str, Any]]:
    """Return the Ollama message list for an OpenAI ``messages`` value (validated)."""
    if not isinstance(messages, list) or not messages:
        raise TranslationError(400, "'messages' must be a non-empty list", "messages")
    call_names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise TranslationError(400, f"'{where}' must be an object", where)
        role = msg.get("role")
        if role == "tool":
            out.append(_tool_message(msg, where, call_names))
            continue
        if role not in _ROLES:
            raise TranslationError(400, f"Unsupported role {role!r}", f"{where}.role")
        text, images = _content(msg.get("content"), f"{where}.content")
        item: dict[str, Any] = {"role": _ROLES[role], "content": text}
        if images:
            item["images"] = images
        if role == "assistant" and msg.get("tool_calls"):
            item["tool_calls"] = _tool_calls(msg["tool_calls"], f"{where}.tool_calls", call_names)
        out.append(item)
    return out


def _tool_message(msg: dict[str, Any], where: str, call_names: dict[str, str]) -> dict[str, Any]:
    text, images = _content(msg.get("content"), f"{where}.content")
    if images:
        raise TranslationError(400, "Tool messages cannot carry images", f"{where}.content")
    item: dict[str, Any] = {"role": "tool", "content": text}
    name = msg.get("name")
    if not isinstance(name, str) or not name:
        call_id = msg.get("tool_call_id")
        name = call_names.get(call_id) if isinstance(call_id, str) else None
    if name:
        item["tool_name"] = name
    return item


def _content(content: object, where: str) -> tuple[str, list[str]]:
    """Return (text, base64 images) for a message ``content`` value."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise TranslationError(400, f"'{where}' must be a string or a list of parts", where)
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content):
        here = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            images.append(_image(part.get("image_url"), here))
        else:
            raise TranslationError(400, f"Unsupported content part type {kind!r}", here)
    return "\n".join(texts), images


def _image(spec: object, where: str) -> str:
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str):
        raise TranslationError(400, "'image_url.url' must be a string", f"{where}.image_url")
    if not url.startswith("data:"):
        raise TranslationError(
            400,
            "Only base64 data: URLs are supported for images on this backend "
            "(it cannot fetch remote URLs)",
            f"{where}.image_url",
        )
    header, sep, data = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise TranslationError(400, "Image data: URLs must be base64-encoded", f"{where}.image_url")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise TranslationError(
            400, "Image data is not valid base64", f"{where}.image_url"
        ) from None
    return data


def _tool_calls(calls: object, where: str, call_names: dict[str, str]) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise TranslationError(400, f"'{where}' must be a list", where)
    out: list[dict[str, Any]] = []
    for k, call in enumerate(calls):
        here = f"{where}[{k}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise TranslationError(400, "Tool calls need function.name", here)
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = orjson.loads(args) if args.strip() else {}
            except orjson.JSONDecodeError:
                raise TranslationError(
                    400, "Tool call arguments are not valid JSON", f"{here}.function.arguments"
                ) from None
        elif args is None:
            args = {}
        if not isinstance(args, dict):
            raise TranslationError(
                400, "Tool call arguments must be a JSON object", f"{here}.function.arguments"
            )
        call_id = call.get("id")
        if isinstance(call_id, str) and call_id:
            call_names[call_id] = fn["name"]
        out.append({"function": {"name": fn["name"], "arguments": args}})
    return out

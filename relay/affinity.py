"""Conversation affinity: send the next turn of a chat to the node that served the last.

A backend keeps the prompt of a recent conversation in its cache (llama.cpp slots, vLLM
prefix caching, Ollama's loaded context), so a continuation served there starts faster. A
conversation is recognised by its key and its leading messages (everything up to and
including the first user message), hashed; the map is bounded and entries expire.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import orjson


def conversation_key(key_id: str, body: dict[str, Any]) -> str | None:
    """A stable id for the conversation ``body`` continues, or None (not a chat)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    leading = []
    for message in messages:
        leading.append(message)
        if isinstance(message, dict) and message.get("role") == "user":
            break
    digest = hashlib.blake2b(orjson.dumps(leading, option=orjson.OPT_SORT_KEYS), digest_size=16)
    digest.update(key_id.encode())
    return digest.hexdigest()


class AffinityMap:
    """conversation id -> node id, least recently used first out, with a time to live."""

    def __init__(self, *, ttl_s: float = 600.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def get(self, conversation: str | None, now: float | None = None) -> str | None:
        if conversation is None:
            return None
        entry = self._entries.get(conversation)
        if entry is None:
            return None
        node_id, expires = entry
        if expires < (now if now is not None else time.monotonic()):
            del self._entries[conversation]
            return None
        return node_id

    def remember(self, conversation: str | None, node_id: str, now: float | None = None) -> None:
        if conversation is None:
            return
        moment = now if now is not None else time.monotonic()
        self._entries[conversation] = (node_id, moment + self._ttl)
        self._entries.move_to_end(conversation)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

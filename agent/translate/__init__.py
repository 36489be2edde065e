"""Sans-I/O translation between the OpenAI API and the agent's local backends.

* :mod:`agent.translate.lines` - incremental NDJSON line and SSE event splitters;
* :mod:`agent.translate.ollama` - OpenAI <-> Ollama native API (requests, responses,
  streams, errors);
* :mod:`agent.translate.openai_passthrough` - minimal fix-ups for backends that already
  speak OpenAI (LM Studio, vLLM, llama.cpp server).

Nothing here performs I/O or needs an event loop; every object is per-request state.
"""

from __future__ import annotations

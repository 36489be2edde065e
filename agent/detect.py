"""Backend auto-detection: which LLM engines run on this machine, and what they serve.

:func:`fingerprint` tells what answers at one root URL (Ollama, LM Studio, llama.cpp,
vLLM or another OpenAI-compatible server) and lists its models and their loaded state;
:func:`detect_backends` does it for the backends the user named and the usual loopback
ports; :class:`BackendWatcher` repeats it and says when the result changed. Probes are
GETs with a short timeout, no redirects, bodies capped at 8 MiB; a failing probe fails
quietly; an API key goes only to its own backend. All of it is safe to cancel.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

BackendKind = Literal["ollama", "lmstudio", "llamacpp", "vllm", "openai"]
BACKEND_KINDS: tuple[str, ...] = get_args(BackendKind)
# Ollama, LM Studio, llama.cpp (llama-server), vLLM, SGLang.
DEFAULT_PORTS: tuple[int, ...] = (11434, 1234, 8080, 8000, 30000)

_MAX_BODY = 8 * 1024 * 1024
_MAX_MODELS = 1000
_MAX_ID = 512
_LLAMACPP_KEYS = frozenset({"default_generation_settings", "total_slots"})


@dataclass(frozen=True)
class ModelInfo:
    """One model a backend can serve; ``loaded``: resident in memory (no cold start)."""

    id: str
    loaded: bool
    size_vram: int | None = None
    expires_at: str | None = None


@dataclass(frozen=True)
class DetectedBackend:
    """One engine found at ``root_url`` (its root, without ``/v1``).

    ``reachable`` is false for a backend the user named that did not answer (it is
    listed with no models so the agent can say so); ``kind`` is then the forced kind, or
    ``"openai"`` when it was "auto". ``api_key`` is kept out of ``repr`` and ``to_dict``.
    """

    kind: BackendKind
    root_url: str
    api_key: str | None = field(default=None, repr=False)
    models: tuple[ModelInfo, ...] = ()
    version: str | None = None
    explicit: bool = False
    reachable: bool = True

    @property
    def openai_base(self) -> str:
        """The OpenAI-compatible base URL (``root_url`` + ``/v1``), where requests go."""
        return _join(self.root_url, "v1")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description for the relay and ``--json``; never holds the key."""
        out = {k: getattr(self, k) for k in ("kind", "root_url", "openai_base", "version")}
        out.update(explicit=self.explicit, reachable=self.reachable)
        out.update(has_api_key=self.api_key is not None, models=[asdict(m) for m in self.models])
        return out


def _join(root: str, path: str) -> str:
    parts = urlsplit(root)
    return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.rstrip('/')}/{path}", "", ""))


def normalize_backend_url(url: str) -> str:
    """The root URL of a backend given as ``http://host:port``, ``.../v1`` or ``.../v1/``.

    A path prefix other than ``/v1`` is kept (``http://h/proxy/v1`` -> ``http://h/proxy``).
    Raises ``ValueError`` for a scheme other than http(s), credentials, a query or
    fragment, no host, a bad port, or spaces and control characters.
    """
    text = url.strip() if isinstance(url, str) else ""
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError(f"invalid backend URL {url!r}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"backend URL must start with http:// or https://, got {url!r}")
    if "@" in parts.netloc:
        raise ValueError("a backend URL must not hold credentials; pass the API key apart")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValueError(f"a backend URL must not have a query or fragment: {url!r}")
    host = parts.hostname
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"backend URL {url!r} has an invalid port") from None
    if not host or port == 0:
        raise ValueError(f"backend URL {url!r} has no host or a bad port")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")].rstrip("/")
    return urlunsplit((scheme, netloc, path, "", ""))


def _clean(value: object, limit: int = _MAX_ID) -> str | None:
    """An engine-supplied name, if it is a printable string of sane length."""
    if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable():
        return value
    return None


def _version(answer: object) -> str | None:
    """The ``version`` of a ``{"version": "..."}`` answer."""
    return _clean(answer.get("version"), 64) if isinstance(answer, dict) else None


def _name(entry: object) -> str | None:
    """An Ollama model entry's name."""
    return _clean(entry.get("name") or entry.get("model")) if isinstance(entry, dict) else None


def _listing(answer: object) -> list[tuple[str, dict[str, Any]]] | None:
    """(id, entry) of each model of an OpenAI ``{"data": [{"id": ...}]}`` list, or None
    if the answer is not one. Entries whose id is not a sane string are dropped."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "id" in e for e in data):
        return None
    return [(i, e) for e in data if (i := _clean(e["id"])) is not None]


_Found = tuple[BackendKind, list[ModelInfo], str | None]  # what a probe recognised


class _Prober:
    """GETs JSON under one root, with that backend's key; remembers whether anything
    answered at all (``dead``: the first request could not even connect)."""

    def __init__(
        self, session: aiohttp.ClientSession, root: str, api_key: str | None, timeout: float
    ) -> None:
        if api_key is not None and any(ch in api_key for ch in "\r\n"):
            raise ValueError("an API key must not contain line breaks")
        self.session, self.root = session, root
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeouts = aiohttp.ClientTimeout(total=timeout)
        self.options: dict[str, Any] = {"headers": headers, "timeout": timeouts}
        self.answered = self.dead = False
        self._cache: dict[str, Any] = {}

    async def get(self, path: str) -> Any:
        if path not in self._cache:
            self._cache[path] = await self._fetch(path)
        return self._cache[path]

    async def _fetch(self, path: str) -> Any:
        try:
            url = _join(self.root, path)
            async with self.session.get(url, allow_redirects=False, **self.options) as resp:
                self.answered = True
                if resp.status != 200:
                    return None
                raw = await _read_capped(resp)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            self.dead = self.dead or not self.answered
            return None
        try:
            return orjson.loads(raw) if raw is not None else None
        except orjson.JSONDecodeError:
            return None


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes | None:
    if resp.content_length is not None and resp.content_length > _MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unique(models: list[ModelInfo]) -> list[ModelInfo]:
    out: dict[str, ModelInfo] = {}
    for m in models:
        out.setdefault(m.id, m)
    return list(out.values())[:_MAX_MODELS]


def _all_loaded(kind: BackendKind, ids: list[str], version: str | None = None) -> _Found:
    return kind, _unique([ModelInfo(i, loaded=True) for i in ids]), version


async def _probe_ollama(p: _Prober) -> _Found | None:
    """``/api/version`` with a version and ``/api/tags``; loaded state from ``/api/ps``."""
    version = _version(await p.get("api/version"))
    tags = await p.get("api/tags") if version is not None else None
    if not isinstance(tags, dict) or not isinstance(tags.get("models"), list):
        return None
    ps = await p.get("api/ps")
    listed = ps.get("models") if isinstance(ps, dict) else None
    running = {n: e for e in (listed if isinstance(listed, list) else []) if (n := _name(e))}
    names = [n for e in tags["models"] if (n := _name(e))]
    names += [n for n in running if n not in names]  # loaded but not listed: still served
    return "ollama", _unique([_ollama_model(n, running.get(n)) for n in names]), version


def _ollama_model(name: str, run: dict[str, Any] | None) -> ModelInfo:
    if run is None:
        return ModelInfo(name, loaded=False)
    vram, expires = run.get("size_vram"), _clean(run.get("expires_at"), 64)
    return ModelInfo(name, True, vram if type(vram) is int else None, expires)


async def _probe_lmstudio(p: _Prober) -> _Found | None:
    """``/api/v0/models``: a ``data`` list whose entries carry ``state``."""
    listing = _listing(await p.get("api/v0/models"))
    if listing is None or not all("state" in e for _, e in listing):
        return None
    return "lmstudio", _unique([ModelInfo(i, e["state"] == "loaded") for i, e in listing]), None


async def _probe_llamacpp(p: _Prober) -> _Found | None:
    """``/props`` with ``default_generation_settings`` or ``total_slots``."""
    props = await p.get("props")
    if not isinstance(props, dict) or _LLAMACPP_KEYS.isdisjoint(props):
        return None
    listing = _listing(await p.get("v1/models"))
    path = _clean(props.get("model_path"))  # the model's default id, if no listing
    ids = [i for i, _ in listing] if listing is not None else [path] if path else []
    return _all_loaded("llamacpp", ids, _clean(props.get("build_info"), 64))


async def _probe_vllm(p: _Prober) -> _Found | None:
    """``/version`` with a version and a ``/v1/models`` list ``owned_by: "vllm"``."""
    version = _version(await p.get("version"))
    listing = _listing(await p.get("v1/models")) if version is not None else None
    if listing is None or not any(e.get("owned_by") == "vllm" for _, e in listing):
        return None
    return _all_loaded("vllm", [i for i, _ in listing], version)


async def _probe_openai(p: _Prober) -> _Found | None:
    """Any server whose ``/v1/models`` is an OpenAI list; every model counts as loaded."""
    listing = _listing(await p.get("v1/models"))
    return None if listing is None else _all_loaded("openai", [i for i, _ in listing])


# In this order: Ollama and vLLM both answer a version; LM Studio answers 200 to anything.
_ORDER = (_probe_ollama, _probe_lmstudio, _probe_llamacpp, _probe_vllm, _probe_openai)
_PROBES: dict[str, Callable[[_Prober], Awaitable[_Found | None]]] = dict(
    zip(BACKEND_KINDS, _ORDER, strict=True)
)


async def fingerprint(
    session: aiohttp.ClientSession,
    root_url: str,
    api_key: str | None = None,
    *,
    timeout: float = 2.0,  # noqa: ASYNC109 - per probe request, not a deadline for the call
    explicit: bool = False,
    kind: str = "auto",
) -> DetectedBackend | None:
    """What answers at ``root_url`` (``/v1`` may be included), or None if nothing known.

    Probes in order Ollama, LM Studio, llama.cpp, vLLM, generic OpenAI and stops at the
    first match, or at once when nothing listens. ``kind`` other than "auto" forces the
    kind: its probe runs, and if its signature is missing the models still come from
    ``/v1/models``. Raises ``ValueError`` only for a bad URL, key or kind. Cancel-safe.
    """
    if kind != "auto" and kind not in BACKEND_KINDS:
        raise ValueError(f"unknown backend kind {kind!r}; use one of {BACKEND_KINDS} or auto")
    root, api_key = normalize_backend_url(root_url), api_key or None
    prober = _Prober(session, root, api_key, timeout)
    found: _Found | None = None
    for probe in _PROBES.values() if kind == "auto" else [_PROBES[kind]]:
        found = await probe(prober)
        if found is None and kind != "auto" and not prober.dead:
            found = await _probe_openai(prober)  # forced kind: still list the models
        if found is not None or prober.dead:
            break
    if found is None:
        return None
    shown = found[0] if kind == "auto" else cast(BackendKind, kind)
    return DetectedBackend(shown, root, api_key, tuple(found[1]), found[2], explicit)


def _scan_root(host: str, port: int) -> str:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"invalid port {port!r}")
    return normalize_backend_url(f"http://{f'[{host}]' if ':' in host else host}:{port}")


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _covered_port(root: str, host: str) -> int | None:
    """The port of ``host`` that an explicit backend at ``root`` already covers."""
    parts = urlsplit(root)
    name = parts.hostname or ""
    if name != host.lower() and not (_is_loopback(name) and _is_loopback(host)):
        return None
    return parts.port or (443 if parts.scheme == "https" else 80)


async def _explicit(
    session: aiohttp.ClientSession, root: str, api_key: str | None, kind: str, per_probe: float
) -> DetectedBackend:
    found = await fingerprint(session, root, api_key, timeout=per_probe, explicit=True, kind=kind)
    if found is not None:
        return found
    shown = "openai" if kind == "auto" else cast(BackendKind, kind)
    return DetectedBackend(shown, root, api_key, (), None, explicit=True, reachable=False)


async def detect_backends(
    session: aiohttp.ClientSession,
    *,
    ports: Sequence[int],
    explicit: Sequence[tuple[str, str | None, str]] = (),
    scan: bool = True,
    host: str = "127.0.0.1",
    timeout: float = 1.0,  # noqa: ASYNC109 - per probe request, not a deadline for the call
) -> list[DetectedBackend]:
    """The backends named in ``explicit`` and, with ``scan``, those on ``host:ports``.

    ``explicit`` holds ``(url, api_key, kind)``, kind "auto" or a :data:`BackendKind`;
    each is reported, in the given order, even when it does not answer
    (``reachable=False``). Then the scanned ones, by port, skipping ports an explicit
    backend covers. All probes run concurrently (cancel-safe: cancelling cancels them).
    Raises ``ValueError`` for a bad URL, kind or port before probing anything.
    """
    entries = [(normalize_backend_url(url), key or None, kind) for url, key, kind in explicit]
    for _, _, kind in entries:
        if kind != "auto" and kind not in BACKEND_KINDS:
            raise ValueError(f"unknown backend kind {kind!r}")
    covered = {_covered_port(root, host) for root, _, _ in entries}
    roots = [(port, _scan_root(host, port)) for port in sorted(set(ports))] if scan else []
    roots = [(port, root) for port, root in roots if port not in covered]
    results = await asyncio.gather(
        *(_explicit(session, root, key, kind, timeout) for root, key, kind in entries),
        *(fingerprint(session, root, timeout=timeout) for _, root in roots),
    )
    return [r for r in results if r is not None]


def backends_signature(backends: Sequence[DetectedBackend]) -> tuple[Any, ...]:
    """What the relay must hear about: kinds, URLs, versions, models and loaded state
    (not ``expires_at`` or ``size_vram``, which move on every request)."""
    return tuple(
        (b.kind, b.root_url, b.version, b.reachable, sorted((m.id, m.loaded) for m in b.models))
        for b in backends
    )


class BackendWatcher:
    """Holds the last detection and re-runs it; :meth:`rescan` says whether it changed.

    ``detect`` runs one detection, e.g. ``functools.partial(detect_backends, session,
    ports=DEFAULT_PORTS, explicit=...)``.
    """

    def __init__(self, detect: Callable[[], Awaitable[Sequence[DetectedBackend]]]) -> None:
        self._detect = detect
        self._backends: tuple[DetectedBackend, ...] = ()
        self._signature: tuple[Any, ...] = ()
        self._lock = asyncio.Lock()

    @property
    def backends(self) -> tuple[DetectedBackend, ...]:
        """The result of the last completed :meth:`rescan` (empty before the first)."""
        return self._backends

    async def rescan(self) -> bool:
        """Detect again; True if backends, models or loaded state differ from last time
        (the first call compares with "nothing found"). Safe to cancel: a cancelled
        rescan leaves the previous result in place. Concurrent calls run one at a time.
        """
        async with self._lock:
            found = tuple(await self._detect())
            signature = backends_signature(found)
            changed = signature != self._signature
            self._backends, self._signature = found, signature
            return changed

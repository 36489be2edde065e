"""The running agent: backends found, GPUs watched, tunnel kept open.

Wires the parts together: detection (:mod:`agent.detect`) decides which local backends
serve which models, the GPU monitor samples in a thread, the forwarder serves requests,
and the tunnel client keeps the relay connection. A rescan runs on an interval and right
after a backend error; any change is pushed to the relay at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from typing import Any

import aiohttp

from agent.detect import DetectedBackend, backends_signature, detect_backends
from agent.forward import Forwarder
from agent.gpu import GpuMonitor
from agent.tunnel import TunnelClient
from config import AgentSettings
from relay.protocol import ModelEntry

log = logging.getLogger(__name__)


def ssl_context(settings: AgentSettings) -> ssl.SSLContext | None:
    """Certificate verification for wss:// (the system store, or a private CA bundle)."""
    if settings.ca_bundle is None:
        return None
    return ssl.create_default_context(cafile=str(settings.ca_bundle))


class Inventory:
    """What this node serves now: the detected backends and a model -> backend map."""

    def __init__(self) -> None:
        self.backends: list[DetectedBackend] = []
        self.by_model: dict[str, DetectedBackend] = {}
        self._served: dict[str, tuple[DetectedBackend, bool]] = {}

    def update(self, backends: list[DetectedBackend]) -> bool:
        """Adopt a detection result; True if anything the relay cares about changed."""
        before = backends_signature(self.backends)
        self.backends = backends
        served: dict[str, tuple[DetectedBackend, bool]] = {}
        for backend in backends:  # the first backend to list a model serves it
            for model in backend.models:
                names = [model.id]
                if backend.kind == "ollama" and model.id.endswith(":latest"):
                    # Ollama reads "name" as "name:latest", and so do its users
                    names.append(model.id.removesuffix(":latest"))
                for name in names:
                    served.setdefault(name, (backend, model.loaded))
        self._served = served
        self.by_model = {name: backend for name, (backend, _) in served.items()}
        return backends_signature(backends) != before

    def describe(self) -> tuple[list[ModelEntry], list[dict[str, Any]]]:
        models = [
            ModelEntry(name, loaded, backend.kind)
            for name, (backend, loaded) in self._served.items()
        ]
        return models, [b.to_dict() for b in self.backends]


class Agent:
    """One agent process. ``await run()`` until :meth:`stop` (or a fatal tunnel error)."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.inventory = Inventory()
        self.gpu_monitor = GpuMonitor(interval=settings.gpu_sample_interval_s)
        self._rescan_now = asyncio.Event()
        self.tunnel: TunnelClient | None = None

    async def detect(self, http: aiohttp.ClientSession) -> list[DetectedBackend]:
        explicit = [(b.url, b.api_key, b.kind) for b in self.settings.backends]
        return await detect_backends(
            http, ports=self.settings.scan_ports, explicit=explicit, scan=self.settings.scan
        )

    async def run(self) -> None:
        settings = self.settings
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as http:
            self.inventory.update(await self.detect(http))
            self._log_inventory()
            forwarder = Forwarder(
                http, allowed_routes=settings.allowed_routes, models=self.inventory.by_model
            )
            forwarder.on_backend_failure = self._rescan_now.set
            self.gpu_monitor.start()
            self.tunnel = TunnelClient(
                relay_url=settings.relay_url,
                token=settings.token,
                node_name=settings.name,
                forwarder=forwarder,
                http=http,
                inventory=self.inventory.describe,
                gpus=self._gpus,
                max_concurrency=settings.max_concurrency,
                heartbeat_interval_s=settings.heartbeat_interval_s,
                drain_timeout_s=settings.drain_timeout_s,
                insecure=settings.insecure,
                ssl_context=ssl_context(settings),
            )
            rescans = asyncio.create_task(self._rescan_loop(http, forwarder))
            try:
                await self.tunnel.run()
            finally:
                rescans.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await rescans
                self.gpu_monitor.stop()

    def stop(self) -> None:
        if self.tunnel is not None:
            self.tunnel.stop()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)

    def _gpus(self) -> list[dict[str, Any]] | None:
        samples = self.gpu_monitor.latest()
        return None if samples is None else [s.to_dict() for s in samples]

    def _log_inventory(self) -> None:
        if not self.inventory.backends:
            log.warning("no backends found; this node serves nothing until one starts")
        for backend in self.inventory.backends:
            log.info(
                "backend %s at %s: %d models", backend.kind, backend.root_url, len(backend.models)
            )

    async def _rescan_loop(self, http: aiohttp.ClientSession, forwarder: Forwarder) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rescan_now.wait(), self.settings.scan_interval_s)
            self._rescan_now.clear()
            try:
                changed = self.inventory.update(await self.detect(http))
            except Exception:
                log.exception("backend rescan failed")
                continue
            forwarder.models = self.inventory.by_model
            if changed and self.tunnel is not None:
                self._log_inventory()
                await self.tunnel.send_inventory()

"""Serving the relay with Hypercorn (HTTP/1.1, HTTP/2 over TLS, WebSockets)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

from hypercorn.config import Config

from config import RelaySettings

log = logging.getLogger(__name__)


def hypercorn_config(settings: RelaySettings, *, fd: int | None = None) -> Config:
    """Hypercorn settings derived from ours (TLS when a certificate is configured)."""
    config = Config()
    config.bind = [f"fd://{fd}"] if fd is not None else [_bind(settings.host, settings.port)]
    if settings.certfile is not None and settings.keyfile is not None:
        config.certfile = str(settings.certfile)
        config.keyfile = str(settings.keyfile)
    config.websocket_max_message_size = settings.max_message_bytes
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 5.0
    config.keep_alive_timeout = 75.0  # SDK clients keep connections open between calls
    config.include_server_header = False
    return config


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # aiosqlite logs every statement at debug level, parameters included: too much, and
    # parameters can be key hashes.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


async def serve_async(
    settings: RelaySettings, *, fd: int | None = None, stop: asyncio.Event | None = None
) -> None:
    """Serve until ``stop`` is set, or until SIGINT/SIGTERM when no event is given."""
    from hypercorn.asyncio import serve as hypercorn_serve

    from relay.app import create_app

    stop = stop or _signal_event()
    app = create_app(settings)
    config = hypercorn_config(settings, fd=fd)
    scheme = "https" if settings.certfile else "http"
    log.info("relay listening on %s://%s", scheme, _bind(settings.host, settings.port))

    async def shutdown() -> None:
        await stop.wait()
        from relay.maintenance import close_tunnels_when_idle
        from relay.state import EXTENSION

        state = app.extensions.get(EXTENSION)
        if state is not None:
            await close_tunnels_when_idle(state, timeout_s=config.graceful_timeout - 1)

    await hypercorn_serve(app, config, shutdown_trigger=shutdown)


def _signal_event() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)
    return event


def serve(settings: RelaySettings, *, fd: int | None = None) -> None:
    """Run the relay in the foreground until SIGINT/SIGTERM (blocking)."""
    configure_logging(settings.log_level)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        asyncio.run(serve_async(settings, fd=fd))
    else:
        uvloop.run(serve_async(settings, fd=fd))


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for tests, the demo and the benchmark)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])

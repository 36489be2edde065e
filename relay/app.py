"""The Quart application factory: one blueprint per surface, state built at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from quart import Quart, Response

from config import RelaySettings
from relay import admin
from relay.aliases import AliasCache
from relay.api import health, openai
from relay.auth import KeyAuthenticator
from relay.directory import LocalDirectory, NodeDirectory
from relay.dispatch import Dispatcher
from relay.errors import openai_error
from relay.events import EventHub
from relay.limits import LimitBook, build_limiter
from relay.maintenance import run_maintenance
from relay.state import EXTENSION, RelayState
from relay.tokens import SIGNING_SECRET_NAME, TokenSigner, new_signing_secret
from relay.tunnel import endpoint as tunnel
from relay.tunnel.session import CLOSE_RELAY_SHUTDOWN
from relay.usage import UsageWriter
from relay.usage_meter import Accounting
from storage import Store, open_store

log = logging.getLogger(__name__)


def create_app(
    settings: RelaySettings,
    *,
    store: Store | None = None,
    directory: NodeDirectory | None = None,
) -> Quart:
    """Build the relay app. The store is opened (and migrated) when serving starts unless
    one is given; a given store is left open at shutdown (its owner closes it)."""
    app = Quart("relay")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_message_bytes,
        RESPONSE_TIMEOUT=None,  # streams last as long as the answer; deadlines are ours
        BODY_TIMEOUT=60,
        PROVIDE_AUTOMATIC_OPTIONS=True,
    )
    app.register_blueprint(health.blueprint)
    app.register_blueprint(openai.blueprint)
    app.register_blueprint(tunnel.blueprint)
    for blueprint in admin.BLUEPRINTS:
        app.register_blueprint(blueprint)
    owns_store = store is None
    tasks: list[asyncio.Task[None]] = []

    @app.before_serving
    async def start() -> None:
        opened = store if store is not None else await open_store(settings.effective_database_url())
        secret = await opened.get_or_create_secret(SIGNING_SECRET_NAME, new_signing_secret())
        nodes = directory or LocalDirectory()
        events = EventHub()
        usage = UsageWriter(opened, interval_s=settings.usage_flush_interval_s)
        usage.start()
        dispatcher = Dispatcher(
            nodes,
            settings.scheduler,
            first_byte_timeout_s=settings.first_byte_timeout_s,
            request_timeout_s=settings.request_timeout_s,
        )
        state = RelayState(
            settings=settings,
            store=opened,
            directory=nodes,
            keys=KeyAuthenticator(opened, ttl_s=settings.key_cache_ttl_s),
            signer=TokenSigner(secret),
            events=events,
            dispatcher=dispatcher,
            aliases=AliasCache(opened, ttl_s=settings.key_cache_ttl_s),
            accounting=Accounting(
                LimitBook(opened, ttl_s=settings.limits_cache_ttl_s),
                build_limiter(settings),
                usage,
                events,
                on_finish=dispatcher.finished,
            ),
        )
        app.extensions[EXTENSION] = state
        tasks.append(asyncio.get_running_loop().create_task(run_maintenance(state)))
        tasks.append(admin.start_admin(app, state))

    @app.after_serving
    async def stop() -> None:
        state: RelayState | None = app.extensions.get(EXTENSION)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if state is None:
            return
        for session in state.directory.sessions():
            session.fail_all("The relay is shutting down.", code="relay_shutdown")
            with contextlib.suppress(Exception):
                await session.close(CLOSE_RELAY_SHUTDOWN, "relay shutting down")
        with contextlib.suppress(Exception):
            await state.keys.flush_last_used()
        try:
            await state.accounting.close()  # writes the buffered usage records
        except Exception:
            log.exception("closing the accounting failed")
        if owns_store:
            await state.store.close()

    @app.errorhandler(404)
    async def not_found(_: Exception) -> Response:
        return openai_error(
            404, "Unknown URL. This relay serves the OpenAI API under /v1.", code="unknown_url"
        )

    @app.errorhandler(405)
    async def bad_method(_: Exception) -> Response:
        return openai_error(405, "Method not allowed for this URL.", code="method_not_allowed")

    @app.errorhandler(413)
    async def too_large(_: Exception) -> Response:
        return openai_error(413, "The request body is too large.", code="request_too_large")

    return app

"""The relay's process-wide state, built once at start-up and reached from handlers."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from config import RelaySettings
from relay.aliases import AliasCache
from relay.auth import KeyAuthenticator
from relay.directory import NodeDirectory
from relay.dispatch import Dispatcher
from relay.events import EventHub
from relay.tokens import TokenSigner
from relay.usage_meter import Accounting
from storage import Store

EXTENSION = "llmcluster"


@dataclass
class RelayState:
    settings: RelaySettings
    store: Store
    directory: NodeDirectory
    keys: KeyAuthenticator
    signer: TokenSigner
    events: EventHub
    dispatcher: Dispatcher
    aliases: AliasCache
    accounting: Accounting


def relay_state() -> RelayState:
    """The state of the app serving the current request or websocket."""
    state: RelayState = current_app.extensions[EXTENSION]
    return state

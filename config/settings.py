"""The typed settings of the three programs: relay, agent (with its backends) and console.

Each class is a frozen dataclass whose defaults are the documented defaults; the rules
each field must satisfy when loaded (ranges, URL schemes, secrecy) live in its metadata
(``field(metadata=rules(...))``, see :mod:`config.schema`) and are enforced by the loaders in
:mod:`config.loader`. Constructing a class directly checks only cross-field rules, so
tests may use values a config file could not (``port=0`` for an ephemeral port).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from config.errors import ConfigError
from config.paths import default_data_dir
from config.schema import rules

KIB = 1024
MIB = 1024 * KIB

LogLevel = Literal["debug", "info", "warning", "error"]
BackendKind = Literal["auto", "openai", "ollama", "lmstudio", "llamacpp", "vllm"]

_HTTP = ("http", "https")

DEFAULT_SCAN_PORTS = [1234, 11434, 8080, 8000, 30000, 5001, 5000, 1337]
DEFAULT_ALLOWED_ROUTES = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"]


@dataclass(frozen=True)
class RelaySettings:
    """Settings of the relay server (``llmcluster-relay``), read from ``relay.toml``."""

    host: str = field(
        default="127.0.0.1", metadata=rules(nonempty=True, doc="Address to listen on.")
    )
    port: int = field(default=8080, metadata=rules(ge=1, le=65535, doc="TCP port to listen on."))
    data_dir: Path = field(
        default_factory=default_data_dir,
        metadata=rules(doc="Folder for the relay's files (default $XDG_DATA_HOME/llmcluster)."),
    )
    database_url: str | None = field(
        default=None,
        metadata=rules(
            schemes=("sqlite", "postgresql", "postgres"),
            doc="Database URL; unset means sqlite:///<data_dir>/relay.db.",
        ),
    )
    certfile: Path | None = field(
        default=None, metadata=rules(doc="TLS certificate (PEM); needs keyfile too.")
    )
    keyfile: Path | None = field(
        default=None, metadata=rules(doc="TLS private key (PEM); needs certfile too.")
    )
    public_url: str | None = field(
        default=None,
        metadata=rules(schemes=_HTTP, doc="Base URL consumers and agents use to reach the relay."),
    )
    log_level: LogLevel = field(
        default="info", metadata=rules(doc="One of debug, info, warning, error.")
    )
    heartbeat_timeout_s: float = field(
        default=15.0,
        metadata=rules(gt=0, doc="Drop an agent that has sent no heartbeat for this long."),
    )
    max_message_bytes: int = field(
        default=16 * MIB, metadata=rules(ge=KIB, doc="Largest tunnel message accepted, in bytes.")
    )
    stream_window_bytes: int = field(
        default=MIB, metadata=rules(ge=KIB, doc="Per-stream flow-control window, in bytes.")
    )
    request_timeout_s: float = field(
        default=600.0, metadata=rules(gt=0, doc="Longest a proxied request may take, seconds.")
    )
    first_byte_timeout_s: float = field(
        default=120.0,
        metadata=rules(gt=0, doc="Longest wait for a backend's first response byte, seconds."),
    )
    node_jwt_ttl_s: int = field(
        default=300, metadata=rules(ge=1, doc="Lifetime of a node's session JWT, seconds.")
    )
    admin_allowed_origins: list[str] = field(
        default_factory=list,
        metadata=rules(nonempty=True, doc="Browser origins allowed to call the admin API (CORS)."),
    )
    redis_url: str | None = field(
        default=None,
        metadata=rules(
            schemes=("redis", "rediss", "unix"),
            doc="Redis URL for sharing state between workers; unset means in-process only.",
        ),
    )
    workers: int = field(default=1, metadata=rules(ge=1, doc="Number of worker processes."))
    key_cache_ttl_s: float = field(
        default=5.0,
        metadata=rules(
            ge=0,
            doc="How long a verified API key is cached; a key revoked outside this relay "
            "(the CLI) stops working within this time. 0 = no cache.",
        ),
    )
    revocation_poll_s: float = field(
        default=2.0,
        metadata=rules(gt=0, doc="How often to look for nodes revoked outside this relay."),
    )

    def __post_init__(self) -> None:
        """Reject a TLS setup with only one of certfile and keyfile."""
        if (self.certfile is None) != (self.keyfile is None):
            have, lack = (
                ("certfile", "keyfile") if self.keyfile is None else ("keyfile", "certfile")
            )
            raise ConfigError(
                have,
                f"'{lack}' to be set too (TLS needs both certfile and keyfile)",
                f"no '{lack}'",
            )

    @property
    def tls_enabled(self) -> bool:
        """Whether the relay serves HTTPS itself (certfile and keyfile are set)."""
        return self.certfile is not None and self.keyfile is not None

    def effective_database_url(self) -> str:
        """The database to use: ``database_url``, else ``sqlite:///<data_dir>/relay.db``.

        For an absolute ``data_dir`` this gives four slashes (``sqlite:////var/...``):
        the path is everything after ``sqlite:///``.
        """
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'relay.db').as_posix()}"


@dataclass(frozen=True)
class BackendSettings:
    """One inference server on the agent's rig, declared in a ``[[backends]]`` table."""

    url: str = field(metadata=rules(schemes=_HTTP, doc="Base URL of an OpenAI-compatible server."))
    api_key: str | None = field(
        default=None,
        repr=False,
        metadata=rules(secret=True, doc="API key the server expects, if any."),
    )
    kind: BackendKind = field(
        default="auto", metadata=rules(doc="Server flavour; auto detects it.")
    )


@dataclass(frozen=True)
class AgentSettings:
    """Settings of the agent on a GPU rig (``llmcluster-agent``), read from ``agent.toml``."""

    relay_url: str = field(
        metadata=rules(schemes=_HTTP, doc="Base URL of the relay, as consumers know it.")
    )
    token: str = field(
        repr=False,
        metadata=rules(
            nonempty=True,
            secret=True,
            doc="This node's token, issued by the relay. Keep it secret.",
        ),
    )
    name: str = field(
        default_factory=socket.gethostname,
        metadata=rules(nonempty=True, doc="Node name shown in the console (default: hostname)."),
    )
    backends: list[BackendSettings] = field(
        default_factory=list,
        metadata=rules(doc="Inference servers to serve, besides those found by scanning."),
    )
    scan_ports: list[int] = field(
        default_factory=lambda: list(DEFAULT_SCAN_PORTS),
        metadata=rules(ge=1, le=65535, doc="Local ports probed for inference servers."),
    )
    scan: bool = field(
        default=True, metadata=rules(doc="Probe scan_ports on localhost for inference servers.")
    )
    scan_interval_s: float = field(default=30.0, metadata=rules(gt=0, doc="Seconds between scans."))
    max_concurrency: int = field(
        default=8, metadata=rules(ge=1, doc="Most requests served at once.")
    )
    heartbeat_interval_s: float = field(
        default=5.0, metadata=rules(gt=0, doc="Seconds between heartbeats to the relay.")
    )
    drain_timeout_s: float = field(
        default=30.0,
        metadata=rules(ge=0, doc="On shutdown, seconds to let running requests finish."),
    )
    gpu_sample_interval_s: float = field(
        default=2.0, metadata=rules(gt=0, doc="Seconds between GPU samples.")
    )
    insecure: bool = field(
        default=False,
        metadata=rules(doc="Skip TLS certificate checks of the relay (testing only!)."),
    )
    ca_bundle: Path | None = field(
        default=None,
        metadata=rules(doc="CA bundle (PEM) to trust for the relay, e.g. a private CA."),
    )
    allowed_routes: list[str] = field(
        default_factory=lambda: list(DEFAULT_ALLOWED_ROUTES),
        metadata=rules(prefix="/", doc="Backend routes the relay may call."),
    )


@dataclass(frozen=True)
class ConsoleSettings:
    """Settings of the operator console (``llmcluster-console``), from ``console.toml``."""

    relay_url: str = field(
        default="http://127.0.0.1:8080",
        metadata=rules(schemes=_HTTP, doc="Base URL of the relay's admin API."),
    )
    token: str | None = field(
        default=None,
        repr=False,
        metadata=rules(
            nonempty=True,
            secret=True,
            env_aliases=("LLMCLUSTER_ADMIN_TOKEN",),
            doc="Admin token; also read from LLMCLUSTER_ADMIN_TOKEN.",
        ),
    )
    refresh_interval_s: float = field(
        default=1.0, metadata=rules(gt=0, doc="Seconds between screen refreshes.")
    )

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
RateLimiterKind = Literal["memory", "redis"]

_HTTP = ("http", "https")

DEFAULT_SCAN_PORTS = [1234, 11434, 8080, 8000, 30000, 5001, 5000, 1337]
DEFAULT_ALLOWED_ROUTES = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"]


@dataclass(frozen=True)
class SchedulerSettings:
    """How the relay picks a node, queues when all are busy, and fails over (``[scheduler]``)."""

    max_attempts: int = field(
        default=3,
        metadata=rules(ge=1, le=10, doc="Nodes tried for one request before it fails."),
    )
    queue_max_length: int = field(
        default=64,
        metadata=rules(ge=0, doc="Requests that may wait per group and model; more get 503."),
    )
    queue_timeout_s: float = field(
        default=30.0,
        metadata=rules(ge=0, doc="Longest wait for a free node before 503 with Retry-After."),
    )
    cooldown_failures: int = field(
        default=3, metadata=rules(ge=1, doc="Consecutive failures that bench a node.")
    )
    cooldown_s: float = field(
        default=30.0, metadata=rules(ge=0, doc="How long a benched node gets no requests.")
    )
    affinity_ttl_s: float = field(
        default=600.0,
        metadata=rules(ge=0, doc="How long a conversation prefers the node that served it."),
    )
    weight_loaded: float = field(
        default=1000.0, metadata=rules(ge=0, doc="Score for having the model loaded in VRAM.")
    )
    weight_capacity: float = field(
        default=40.0, metadata=rules(ge=0, doc="Score for free capacity (in-flight vs max).")
    )
    weight_ttft: float = field(
        default=15.0, metadata=rules(ge=0, doc="Score for a short measured time to first token.")
    )
    weight_throughput: float = field(
        default=15.0, metadata=rules(ge=0, doc="Score for measured tokens per second.")
    )
    weight_failures: float = field(
        default=1500.0, metadata=rules(ge=0, doc="Penalty per unit of recent failure rate.")
    )
    weight_gpu_utilization: float = field(
        default=10.0, metadata=rules(ge=0, doc="Penalty for a busy GPU (last heartbeat).")
    )
    weight_vram_headroom: float = field(
        default=10.0, metadata=rules(ge=0, doc="Score for free VRAM (last heartbeat).")
    )
    weight_affinity: float = field(
        default=60.0, metadata=rules(ge=0, doc="Score for the node of a recent conversation.")
    )


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
    admin_update_interval_s: float = field(
        default=1.0,
        metadata=rules(
            gt=0, doc="Seconds between the live updates the admin socket sends a console."
        ),
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
    rate_limiter: RateLimiterKind = field(
        default="memory",
        metadata=rules(
            doc="Where rate-limit counters live: memory (this process) or redis (shared by "
            "relays; needs redis_url; falls back to memory while Redis is unreachable).",
        ),
    )
    redis_key_prefix: str = field(
        default="llmc:",
        metadata=rules(nonempty=True, doc="Prefix of every Redis key this relay writes."),
    )
    redis_retry_s: float = field(
        default=5.0,
        metadata=rules(gt=0, doc="While Redis is unreachable, how often to try it again."),
    )
    limits_cache_ttl_s: float = field(
        default=5.0,
        metadata=rules(
            ge=0,
            doc="How long rate limits read from the database are cached; a limit changed "
            "with the CLI takes effect within this time. 0 = no cache.",
        ),
    )
    usage_flush_interval_s: float = field(
        default=1.0,
        metadata=rules(gt=0, doc="How often usage records are written to the database."),
    )
    scheduler: SchedulerSettings = field(
        default_factory=SchedulerSettings,
        metadata=rules(doc="Node choice, queueing and failover (the [scheduler] table)."),
    )

    def __post_init__(self) -> None:
        """Reject a TLS setup with only one of certfile and keyfile, and a Redis rate
        limiter without a Redis URL."""
        if self.rate_limiter == "redis" and self.redis_url is None:
            raise ConfigError(
                "rate_limiter",
                "'redis_url' to be set too (the redis rate limiter needs it)",
                "no 'redis_url'",
            )
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

"""Write an agent.toml: a commented, valid TOML file, readable only by its owner.

Used by ``llmcluster-agent`` when it enrols a node: the file holds the node token, so it
is written atomically with mode 0600. Keys the caller gave are written as settings; every
other key appears commented out with its default, so the file documents itself.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import textwrap
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.schema import Origin, as_dict, build, settings_fields
from config.settings import AgentSettings

_HEADER = """\
# LLM Cluster agent configuration (llmcluster-agent).
# This file holds the node token: keep it private (mode 0600).
# Environment variables LLMCLUSTER_AGENT_<KEY> override the keys below.
"""

_BACKEND_EXAMPLE = """\
# [[backends]]
# url = "http://127.0.0.1:11434"
# kind = "ollama"
# api_key = "..."
"""


def write_agent_config(path: Path, settings: Mapping[str, Any] | AgentSettings) -> AgentSettings:
    """Validate ``settings`` and write them to ``path`` as a commented agent.toml.

    ``settings`` is a mapping of agent keys (at least ``relay_url`` and ``token``; values
    may be text as from CLI flags, ``None`` means unset) or an :class:`AgentSettings`.
    Parent folders are created (mode 0700); the file is replaced atomically and has mode
    0600. Relative paths are made absolute from the current folder. Returns the settings
    as :func:`config.load_agent_settings` will read them back. Raises ``ConfigError`` on an
    invalid value, before anything is written.
    """
    raw = as_dict(settings) if isinstance(settings, AgentSettings) else dict(settings)
    given = {key: value for key, value in raw.items() if value is not None}
    origin = Origin(None, from_string=True, base_dir=Path.cwd())
    validated = build(AgentSettings, given, origin)
    text = render_agent_toml(validated, explicit=set(given))
    tomllib.loads(text)  # never write a file the loader would reject
    _write_private(Path(path).expanduser(), text)
    return validated


def render_agent_toml(settings: AgentSettings, *, explicit: set[str] | None = None) -> str:
    """The text of an agent.toml for ``settings``; keys outside ``explicit`` are commented."""
    explicit = {f.name for f, _ in settings_fields(AgentSettings)} if explicit is None else explicit
    lines = [_HEADER]
    tables: list[str] = []
    for f, _ in settings_fields(AgentSettings):
        value = getattr(settings, f.name)
        comment = [f"# {line}" for line in textwrap.wrap(f.metadata.get("doc", ""), 86)]
        if f.name == "backends":
            tables += comment
            for backend in value if f.name in explicit else []:
                tables += ["[[backends]]", *_assignments(as_dict(backend), commented=False), ""]
            if not value or f.name not in explicit:
                tables.append(_BACKEND_EXAMPLE.rstrip("\n"))
            continue
        lines += comment
        if value is None:
            lines.append(f"# {f.name} is not set by default.")
        else:
            lines += _assignments({f.name: value}, commented=f.name not in explicit)
        lines.append("")
    return "\n".join([*lines, *tables]).rstrip("\n") + "\n"


def toml_value(value: Any) -> str:
    """Render a simple value (bool, int, float, str, Path, list of those) as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return _quote(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _assignments(values: Mapping[str, Any], *, commented: bool) -> list[str]:
    mark = "# " if commented else ""
    return [f"{mark}{key} = {toml_value(v)}" for key, v in values.items() if v is not None]


def _quote(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _write_private(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


__all__ = ["render_agent_toml", "toml_value", "write_agent_config"]

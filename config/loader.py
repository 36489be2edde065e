"""Load each program's settings from defaults, a TOML file, the environment and CLI flags.

Precedence, lowest to highest: the dataclass defaults < the TOML file < environment
variables (``LLMCLUSTER_<PROGRAM>_<KEY>``, e.g. ``LLMCLUSTER_RELAY_PORT``) < ``overrides``
(from command-line flags; ``None`` values are ignored). Environment and override values
may be text, parsed into the field's type: booleans accept 1/0, true/false, yes/no,
on/off; lists are comma-separated; a backend may be given as just its URL (so
``LLMCLUSTER_AGENT_BACKENDS=http://a:1,http://b:2`` works); an empty value unsets an
optional key. Environment variables that name no setting are ignored.

A TOML file is flat: a program's keys sit at its top level (agent backends are
``[[backends]]`` tables). Relative paths in it are taken relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from config.errors import ConfigError
from config.paths import default_data_dir
from config.schema import Origin, build, settings_fields
from config.settings import AgentSettings, ConsoleSettings, RelaySettings

T = TypeVar("T")

ENV_PREFIX = "LLMCLUSTER"
ENVIRONMENT = "environment"
COMMAND_LINE = "command line"

_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


def env_var_name(program: str, key: str) -> str:
    """The environment variable for one setting: ``LLMCLUSTER_RELAY_PORT``."""
    return f"{ENV_PREFIX}_{program.upper()}_{key.upper()}"


def load_relay_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RelaySettings:
    """Load the relay's settings; ``path`` is a relay.toml, or None for no file."""
    env = os.environ if env is None else env
    defaults = {"data_dir": default_data_dir(env)}
    return _load(RelaySettings, "relay", path, env, overrides, defaults)


def load_agent_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AgentSettings:
    """Load the agent's settings; ``path`` is an agent.toml, or None for no file.

    The CLI usually passes :func:`config.default_agent_config_path` when it exists.
    """
    env = os.environ if env is None else env
    return _load(AgentSettings, "agent", path, env, overrides, {})


def load_console_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ConsoleSettings:
    """Load the console's settings; ``path`` is a console.toml, or None for no file.

    The token may also come from ``LLMCLUSTER_ADMIN_TOKEN`` (``LLMCLUSTER_CONSOLE_TOKEN``
    wins when both are set).
    """
    env = os.environ if env is None else env
    return _load(ConsoleSettings, "console", path, env, overrides, {})


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, raising :class:`ConfigError` naming the file (and line) on failure."""
    label = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        reason = err.strerror or str(err)
        raise ConfigError(
            "", "a readable file", "an error", file=label, message=f"cannot read: {reason}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            "", "UTF-8 text", "other bytes", file=label, message="not UTF-8 text"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _TOML_POSITION.search(message)
        detail = message[: match.start()] if match else message
        if match and match.group(1):
            line, where = int(match.group(1)), f"line {match.group(1)}, column {match.group(2)}"
        else:
            line, where = text.count("\n") + 1, "end of file"
        raise ConfigError(
            "",
            "valid TOML",
            "a syntax error",
            file=label,
            line=line,
            message=f"{where}: invalid TOML: {detail}",
        ) from None


def _load(
    cls: type[T],
    program: str,
    path: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, Any] | None,
    defaults: Mapping[str, Any],
) -> T:
    """Merge the layers into one mapping, remembering each key's source, then validate."""
    values: dict[str, Any] = dict(defaults)
    origins = {key: Origin("defaults") for key in defaults}
    base = Origin(None)
    if path is not None:
        path = Path(path).expanduser()
        base = Origin(str(path), base_dir=path.absolute().parent)
        for key, value in read_toml(path).items():
            values[key], origins[key] = value, base
    for key, (var, value) in _env_values(cls, program, env).items():
        values[key], origins[key] = value, Origin(ENVIRONMENT, key=var, from_string=True)
    for key, value in (overrides or {}).items():
        if value is not None:
            name = key.replace("-", "_")
            values[name], origins[name] = value, Origin(COMMAND_LINE, from_string=True)
    hints = {
        f.name: f"set it in {program}.toml or {env_var_name(program, f.name)}"
        for f, _ in settings_fields(cast(type, cls))
    }
    return build(cls, values, base, origins=origins, hints=hints)


def _env_values(cls: type, program: str, env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The settings of ``cls`` set in ``env``: ``{field: (variable, text)}``."""
    found: dict[str, tuple[str, str]] = {}
    for f, tp in settings_fields(cls):
        if dataclasses.is_dataclass(tp):
            continue
        for var in (env_var_name(program, f.name), *f.metadata.get("env_aliases", ())):
            if var in env:
                found[f.name] = (var, env[var])
                break
    return found

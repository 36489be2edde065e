"""A small generic validator that turns raw values into frozen settings dataclasses.

Settings classes are plain frozen dataclasses; each field keeps its rules (range, URL
schemes, secrecy, help text) in ``field(metadata=rules(...))``. :func:`build` checks a
mapping of raw values (from TOML, the environment or the command line) against such a
class and constructs it, raising :class:`~config.errors.ConfigError` that names the source
and the dotted key on the first problem.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``X | None``,
``list[X]``, ``Literal[...]`` of strings, nested dataclasses and lists of them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args, get_origin
from urllib.parse import urlsplit

from config.errors import ConfigError, short_repr

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def rules(
    *,
    doc: str = "",
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    schemes: tuple[str, ...] = (),
    prefix: str | None = None,
    nonempty: bool = False,
    secret: bool = False,
    env_aliases: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Field metadata for a setting: ``field(default=..., metadata=rules(...))``.

    ``ge``/``le``/``gt`` bound a number (or each item of a list), ``schemes`` restricts a
    URL's scheme (``http``/``https`` also need a host), ``prefix`` a string's start,
    ``nonempty`` forbids blank strings. ``secret`` keeps the value out of error messages
    (pair it with ``repr=False``). ``env_aliases`` are extra environment variables read,
    with lower precedence than the usual one, for the field. ``doc`` is the help text the
    config writer puts above the key.
    """
    given = {
        "doc": doc,
        "ge": ge,
        "le": le,
        "gt": gt,
        "schemes": schemes,
        "prefix": prefix,
        "nonempty": nonempty,
        "secret": secret,
        "env_aliases": env_aliases,
    }
    return {k: v for k, v in given.items() if not (v is None or v is False or v in ((), ""))}


@dataclass(frozen=True)
class Origin:
    """Where raw values came from: labels errors and decides how values are read.

    ``file`` is the source's name for messages, ``key`` replaces the field name in them
    (an environment variable's name), ``from_string`` says text is parsed into the field's
    type (environment, command line), and relative paths are resolved against ``base_dir``
    (the folder of a TOML file) when it is set.
    """

    file: str | None
    key: str | None = None
    from_string: bool = False
    base_dir: Path | None = None


@cache
def settings_fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    """The fields of dataclass ``cls`` with their resolved type annotations, in order."""
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def build(
    cls: type[T],
    values: Mapping[str, Any],
    origin: Origin,
    *,
    origins: Mapping[str, Origin] | None = None,
    prefix: str = "",
    hints: Mapping[str, str] | None = None,
) -> T:
    """Validate ``values`` against dataclass ``cls`` and construct an instance.

    ``origin`` describes every value unless ``origins`` gives another for a key; ``prefix``
    is prepended to keys in messages (``backends[0].``); ``hints`` adds a remedy to the
    message of a missing required key. Errors raised by the class itself (cross-field
    checks, raised with ``file=None``) are relabelled with the offending key's source.
    """
    origins = origins or {}
    specs = {f.name: (f, tp) for f, tp in settings_fields(cast(type, cls))}
    for key in values:
        if key not in specs:
            src = origins.get(key, origin)
            raise ConfigError.unknown_key(src.key or prefix + key, specs, file=src.file)
    kwargs: dict[str, Any] = {}
    for name, (f, tp) in specs.items():
        src = origins.get(name, origin)
        label = src.key or prefix + name
        if name in values:
            kwargs[name] = _convert(values[name], tp, f.metadata, label, src)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            hint = (hints or {}).get(name, "")
            raise ConfigError.missing(label, describe(tp, f.metadata), file=src.file, hint=hint)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if err.file is not None:
            raise
        src = origins.get(err.key, origin)
        raise err.relabel(file=src.file, key=src.key or prefix + err.key) from None


def as_dict(instance: object) -> dict[str, Any]:
    """The fields of a dataclass instance as a shallow ``{name: value}`` dict."""
    return {f.name: getattr(instance, f.name) for f in dataclasses.fields(cast(Any, instance))}


def describe(tp: Any, meta: Mapping[str, Any], *, plural: bool = False) -> str:
    """Say in words what a field of type ``tp`` with rules ``meta`` accepts."""
    kind = get_origin(tp)
    if kind in (typing.Union, types.UnionType):
        return describe(_optional_inner(tp), meta, plural=plural)
    if kind is Literal:
        choices = ", ".join(repr(c) for c in get_args(tp))
        return f"values each one of {choices}" if plural else f"one of {choices}"
    if kind is list:
        return "an array of " + describe(get_args(tp)[0], meta, plural=True)
    if dataclasses.is_dataclass(tp):
        return "tables" if plural else "a table"
    if tp is bool:
        return "booleans" if plural else "true or false"
    if tp is int or tp is float:
        noun = {int: ("an integer", "integers"), float: ("a number", "numbers")}[tp][plural]
        return noun + _range_text(meta)
    if tp is Path:
        return "paths" if plural else "a path"
    if "schemes" in meta:
        schemes = " or ".join(f"{s}://" for s in meta["schemes"])
        return f"{'URLs' if plural else 'a URL'} starting with {schemes}"
    if "prefix" in meta:
        return f"{'strings' if plural else 'a string'} starting with {meta['prefix']!r}"
    if meta.get("nonempty"):
        return "non-empty strings" if plural else "a non-empty string"
    return "strings" if plural else "a string"


def _range_text(meta: Mapping[str, Any]) -> str:
    ge, le, gt = meta.get("ge"), meta.get("le"), meta.get("gt")
    if ge is not None and le is not None:
        return f" {ge}-{le}"
    parts = [f"{op} {v}" for op, v in ((">=", ge), (">", gt), ("<=", le)) if v is not None]
    return " " + " and ".join(parts) if parts else ""


def _optional_inner(tp: Any) -> Any:
    return next(a for a in get_args(tp) if a is not type(None))


def _convert(value: Any, tp: Any, meta: Mapping[str, Any], key: str, src: Origin) -> Any:
    """Check one raw value against ``tp`` and return it in its final form."""

    def bad() -> ConfigError:
        got = short_repr(value, secret=bool(meta.get("secret")))
        return ConfigError(key, describe(tp, meta), got, file=src.file)

    text = src.from_string and isinstance(value, str)
    kind = get_origin(tp)
    if kind in (typing.Union, types.UnionType):
        if value is None or (text and not value.strip()):
            return None
        return _convert(value, _optional_inner(tp), meta, key, src)
    if kind is Literal:
        wanted = value.strip().lower() if isinstance(value, str) else None
        for choice in get_args(tp):
            if choice.lower() == wanted:
                return choice
        raise bad()
    if kind is list:
        item_tp = get_args(tp)[0]
        if text:
            items: list[Any] = _split(value)
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise bad()
        return [_convert(v, item_tp, meta, f"{key}[{i}]", src) for i, v in enumerate(items)]
    if dataclasses.is_dataclass(tp):
        if isinstance(tp, type) and isinstance(value, tp):
            value = as_dict(value)
        elif text:  # a bare string fills the table's first field: a backend's url
            value = {dataclasses.fields(tp)[0].name: value}
        if not isinstance(value, Mapping):
            raise bad()
        return build(cast(type, tp), value, src, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if text and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    if tp is int or tp is float:
        number = _number(value.strip() if text else value, tp)
        if number is None or not _in_range(number, meta):
            raise bad()
        return number
    if tp is Path:
        if not isinstance(value, str | os.PathLike) or not str(value).strip():
            raise bad()
        path = Path(value).expanduser()
        return src.base_dir / path if src.base_dir and not path.is_absolute() else path
    if tp is str:
        if not isinstance(value, str) or not _string_ok(value, meta):
            raise bad()
        return value
    raise TypeError(f"unsupported settings type {tp!r} for {key}")


def _split(text: str) -> list[str]:
    """Read a comma-separated environment/CLI value as list items."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _number(value: Any, tp: type) -> int | float | None:
    if isinstance(value, str):
        try:
            value = tp(value)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    if tp is int:
        return value if isinstance(value, int) else None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _in_range(number: float, meta: Mapping[str, Any]) -> bool:
    ge, le, gt = meta.get("ge"), meta.get("le"), meta.get("gt")
    if ge is not None and number < ge:
        return False
    if le is not None and number > le:
        return False
    return gt is None or number > gt


def _string_ok(value: str, meta: Mapping[str, Any]) -> bool:
    if meta.get("nonempty") and not value.strip():
        return False
    if "prefix" in meta and not value.startswith(meta["prefix"]):
        return False
    if "schemes" in meta:
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme.lower() not in meta["schemes"] or "://" not in value:
            return False
        if parts.scheme.lower() in ("http", "https"):
            return bool(host)
        return bool(value.split("://", 1)[1])
    return True

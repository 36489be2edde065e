"""The one error type of the config package: a bad setting, named by file and key.

Every problem found while loading settings (a TOML syntax error, an unknown key, a value of
the wrong type or out of range, a missing required key) is raised as :class:`ConfigError`,
whose ``str()`` is one line a person can act on, for example::

    relay.toml: key 'port': expected an integer 1-65535, got 'abc'
    agent.toml: unknown key 'relay_ur' (did you mean 'relay_url'?)
    environment: key 'LLMCLUSTER_RELAY_PORT': expected an integer 1-65535, got 'x'

The values of secret settings (tokens, API keys) never appear in it: ``got`` holds
``<redacted>`` for them, and passwords inside URLs are masked (see :func:`short_repr`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

REDACTED = "<redacted>"

_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")
_MAX_REPR = 60


class ConfigError(Exception):
    """A setting could not be loaded; ``str(err)`` is one line naming the file and the key.

    ``file`` is where the value came from: a TOML path, ``"environment"`` (then ``key`` is
    the variable's name), ``"command line"``, or ``None`` when no single source applies.
    ``key`` is the dotted path of the setting (``backends[1].url``), ``expected`` says what
    would have been accepted and ``got`` is a short, secret-free description of the value.
    ``line`` is set for TOML syntax errors.
    """

    def __init__(
        self,
        key: str,
        expected: str,
        got: str,
        *,
        file: str | None = None,
        line: int | None = None,
        message: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.got = got
        self.line = line
        self._detail = message
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self._detail or f"key '{self.key}': expected {self.expected}, got {self.got}"
        return f"{self.file}: {text}" if self.file else text

    def relabel(self, *, file: str | None, key: str) -> ConfigError:
        """Return a copy naming another source and key (used once the source is known)."""
        detail = self._detail.replace(f"'{self.key}'", f"'{key}'", 1) if self._detail else None
        return ConfigError(key, self.expected, self.got, file=file, line=self.line, message=detail)

    @classmethod
    def unknown_key(cls, key: str, known: Iterable[str], *, file: str | None) -> ConfigError:
        """An unexpected key; suggests the closest known key when one is near enough."""
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return cls(
            key,
            "a known key",
            repr(key),
            file=file,
            message=f"unknown key '{key}'{hint}",
        )

    @classmethod
    def missing(cls, key: str, expected: str, *, file: str | None, hint: str = "") -> ConfigError:
        """A required key that no source set."""
        suffix = f" ({hint})" if hint else ""
        return cls(
            key,
            expected,
            "nothing",
            file=file,
            message=f"missing required key '{key}': expected {expected}{suffix}",
        )


def redact_url(text: str) -> str:
    """Mask the password of any ``scheme://user:password@host`` inside ``text``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def short_repr(value: object, *, secret: bool = False) -> str:
    """Describe a bad value briefly for an error message, never revealing a secret.

    Secrets become ``<redacted>``; strings are quoted, cut to a few dozen characters and
    have URL passwords masked; tables and arrays are named, not printed, since they may
    hold secrets of their own.
    """
    if secret:
        return REDACTED
    if isinstance(value, str):
        text = redact_url(value)
        if len(text) > _MAX_REPR:
            text = text[: _MAX_REPR - 3] + "..."
        return repr(text)
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"

"""Helpers for the split-invariance property tests: cut bytes at arbitrary points."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (any order, duplicates allowed)."""
    points = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


CUTS = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=24)
"""Offsets to cut at; reduced modulo the input length by :func:`split_at`."""


def bytewise(data: bytes) -> list[bytes]:
    """Every byte on its own: the most hostile split."""
    return [data[i : i + 1] for i in range(len(data))]

"""The operator console (``llmcluster-console``): a Textual app that talks to a relay only
through its admin API (``/admin/ws`` and ``/admin/api/``)."""

from __future__ import annotations

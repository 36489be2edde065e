"""Backend URLs: normalisation to the root, the OpenAI base, and what to_dict shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.detect import DetectedBackend, ModelInfo, normalize_backend_url


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("  HTTP://LocalHost:11434  ", "http://localhost:11434"),
        ("https://host/proxy/v1", "https://host/proxy"),
        ("https://host/proxy/", "https://host/proxy"),
        ("http://[::1]:1234/v1", "http://[::1]:1234"),
        ("http://host/v1beta", "http://host/v1beta"),
    ],
)
def test_normalize(url: str, root: str) -> None:
    assert normalize_backend_url(url) == root


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/v1",
        "file:///etc/passwd",
        "host:8000",
        "//host:8000",
        "",
        "http://user:pw@host:8000",
        "http://user@host",
        "http://host:8000/v1?x=1",
        "http://host:8000/v1#frag",
        "http://host:8000/?",
        "http://host:99999",
        "http://host:0",
        "http://host:port",
        "http://",
        "http://ho st/",
        "http://ho\nst/",
        "http://h\x00/",
    ],
)
def test_normalize_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        normalize_backend_url(url)


@given(st.text(max_size=40))
def test_normalize_never_raises_anything_but_valueerror(text: str) -> None:
    try:
        root = normalize_backend_url(text)
    except ValueError:
        return
    assert root.startswith(("http://", "https://"))
    assert normalize_backend_url(root) == root  # idempotent
    assert not root.endswith("/v1")


def test_openai_base_and_to_dict() -> None:
    backend = DetectedBackend(
        "vllm", "http://h:8000/proxy", "sk-secret", (ModelInfo("m", True),), "0.6.4", explicit=True
    )
    assert backend.openai_base == "http://h:8000/proxy/v1"
    assert DetectedBackend("openai", "http://h:8000").openai_base == "http://h:8000/v1"
    data = backend.to_dict()
    assert data == {
        "kind": "vllm",
        "root_url": "http://h:8000/proxy",
        "openai_base": "http://h:8000/proxy/v1",
        "version": "0.6.4",
        "explicit": True,
        "reachable": True,
        "has_api_key": True,
        "models": [{"id": "m", "loaded": True, "size_vram": None, "expires_at": None}],
    }
    assert "sk-secret" not in repr(backend) and "sk-secret" not in str(data)

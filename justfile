# LLM Cluster developer commands. `just` lists them.
set shell := ["bash", "-euo", "pipefail", "-c"]

python := env_var_or_default("PYTHON", "python3")
venv := ".venv"
bin := venv / "bin"

default:
    @just --list

# Create .venv and install the project with its dev tools (pinned by .ci/constraints.txt).
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    stamp="{{venv}}/.setup-stamp"
    want="$(cat pyproject.toml .ci/constraints.txt | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
    if [ ! -x "{{bin}}/python" ]; then {{python}} -m venv {{venv}}; fi
    {{bin}}/python -m pip install --quiet --upgrade pip
    {{bin}}/python -m pip install --quiet -c .ci/constraints.txt -e '.[dev]'
    echo "$want" > "$stamp"

# Run the test suite (Postgres cases need LLMCLUSTER_TEST_POSTGRES_URL; .ci/run sets it).
test *args: setup
    {{bin}}/python -m pytest {{args}}

# ruff (lint + format check), mypy, and the import-layering contracts.
lint: setup
    {{bin}}/ruff check .
    {{bin}}/ruff format --check .
    {{bin}}/mypy
    {{bin}}/lint-imports

# Serve a relay in the foreground (arguments go to `llmcluster-relay serve`).
relay *args: setup
    {{bin}}/llmcluster-relay serve {{args}}

# Relay + agent + backend on loopback, side by side with direct calls to the backend.
bench *args: setup
    {{bin}}/python -m tests.bench {{args}}

# A relay, a group, a key and an agent on this machine, ready for an OpenAI client.
demo *args: setup
    {{bin}}/python -m tests.demo {{args}}

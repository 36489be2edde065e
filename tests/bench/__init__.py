"""End-to-end benchmark: direct calls to a simulated backend vs. the same calls through
relay + tunnel + agent, each server a real process on loopback. Run ``python -m tests.bench``.
"""

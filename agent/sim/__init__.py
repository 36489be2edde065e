"""Simulated LLM backends that speak the engines' exact wire formats (tests, demo, bench)."""

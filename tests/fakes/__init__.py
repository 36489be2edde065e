"""Test stand-ins for hardware and external tools (fake NVML, fake vendor executables)."""

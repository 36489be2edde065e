"""The relay's side of the agents' WebSocket tunnels."""

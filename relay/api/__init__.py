"""HTTP surfaces of the relay, one blueprint each."""

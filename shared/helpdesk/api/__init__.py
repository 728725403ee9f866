"""What the HTTP API functions share: who is calling, one JSON error shape."""

"""Running on Lambda: settings, logging and metrics, and the wiring that builds every service."""

"""Connecting a seller's stores and their life after that (credentials, webhooks, polling, health)."""

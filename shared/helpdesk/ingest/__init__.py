"""Buyer messages and order events coming in: webhooks, polls, e-mail, queued pushes, replay; raw kept."""

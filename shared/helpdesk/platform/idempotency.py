"""Powertools Idempotency settings of the webhook: a delivery id is remembered for 7 days (channels
retry for up to 48 h), so the same delivery twice gives the same answer and stores nothing new."""

from __future__ import annotations

import os

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

WEBHOOK_IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=7 * 24 * 3600)


def webhook_key_prefix() -> str:
    """The prefix of the webhook's idempotency records. Powertools derives it from the decorated function's
    module and name; it is pinned to what the webhook handler's own function was named in Lambda
    (``handler.ingest_once.<locals>.ingest``), so a delivery seen before the code moved is still known after."""
    return f"{os.getenv('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}.handler.ingest_once.<locals>.ingest"

"""Powertools Idempotency settings of the webhook: a delivery id is remembered for 7 days (channels
retry for up to 48 h), so the same delivery twice gives the same answer and stores nothing new."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

WEBHOOK_IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=7 * 24 * 3600)

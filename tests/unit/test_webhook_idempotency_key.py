"""The webhook's idempotency records keep the key they had before the code moved into the wiring, so a
channel retrying a delivery across a deploy still gets the first answer and nothing is stored twice."""

from __future__ import annotations

import pytest

from helpdesk.platform.idempotency import webhook_key_prefix


def test_the_key_prefix_is_the_one_the_webhook_handler_gave_its_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "helpdesk-prod-WebhookFunction-AbC123")
    # Powertools: "<function name>.<module>.<qualified name>" of the decorated function, which was
    # functions/webhook/handler.py's ``ingest_once.<locals>.ingest`` (Lambda imports it as ``handler``).
    assert webhook_key_prefix() == "helpdesk-prod-WebhookFunction-AbC123.handler.ingest_once.<locals>.ingest"

"""POST /webhooks/{tenant_id}/{channel}/{store_id}: a channel's signed webhook delivery.

Thin adapter: read the HTTP API event, let ``helpdesk.ingest.webhooks.WebhookIngestor`` decide, answer.
Idempotent on the channel's delivery id (Powertools Idempotency), so a redelivery stores nothing
new and gets the first answer back.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from helpdesk.api.responses import error_response, json_response
from helpdesk.core.errors import HelpdeskError, InvalidSignature, MalformedPayload
from helpdesk.platform import wiring
from helpdesk.platform.idempotency import WEBHOOK_IDEMPOTENCY
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("webhook")
metrics = metrics_for("webhook")


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    WEBHOOK_IDEMPOTENCY.register_lambda_context(context)
    request = APIGatewayProxyEventV2(event)
    params = request.path_parameters or {}
    tenant_id, channel, store_id = params.get("tenant_id", ""), params.get("channel", ""), params.get("store_id", "")
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    logger.append_keys(tenant_id=tenant_id, channel=channel, store_id=store_id)
    metrics.add_dimension(name="channel", value=channel[:32] or "none")
    try:
        delivery = wiring.webhook_ingestor().authenticate(tenant_id, channel, store_id, headers, raw_body(request))
        key = {"tenant_id": tenant_id, "store_id": store_id, "delivery_id": delivery.delivery_id}
        logger.append_keys(delivery_id=delivery.delivery_id)
        receipt = wiring.webhook_ingest_once()(key=key, delivery=delivery)
    except InvalidSignature as exc:
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        logger.warning("webhook signature rejected", extra={"reason": exc.message})
        return error_response(exc)
    except MalformedPayload as exc:
        metrics.add_metric(name="WebhookQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning("webhook payload quarantined", extra={"reason": exc.message})
        return error_response(exc)
    except HelpdeskError as exc:
        metrics.add_metric(name="WebhookRefused", unit=MetricUnit.Count, value=1)
        logger.info("webhook refused", extra={"code": exc.code})
        return error_response(exc)
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    return json_response(202 if receipt["status"] == "accepted" else 200, receipt)

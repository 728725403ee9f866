"""Scheduled poll of every connected poll-based store (Mirakl inboxes, ...), one tick per run.

The event is EventBridge's scheduled event; an explicit ``{"tenant_id": "..."}`` input (as the
seller setup's per-tenant schedules send) polls that tenant, otherwise every tenant named in
POLL_TENANT_IDS is polled.
"""

from __future__ import annotations

from typing import Any

from helpdesk.platform import wiring
from helpdesk.platform.config import settings
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("poller")
metrics = metrics_for("poller")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tenant = event.get("tenant_id") if isinstance(event, dict) else None
    tenants = [tenant] if isinstance(tenant, str) and tenant else list(settings().poll_tenant_ids)
    summary = []
    for tenant_id in tenants:
        report = wiring.poll_service().tick(tenant_id)
        for outcome in report.outcomes:
            if not outcome.ok:
                logger.warning(
                    "store poll failed",
                    extra={"tenant_id": tenant_id, "store_id": outcome.store_id, "error": outcome.error},
                )
        metrics.add_metric(name="StoresPolled", unit=MetricUnit.Count, value=report.polled)
        metrics.add_metric(name="StorePollFailures", unit=MetricUnit.Count, value=report.failed)
        metrics.add_metric(name="MessagesPolled", unit=MetricUnit.Count, value=report.messages)
        summary.append(
            {
                "tenant_id": tenant_id,
                "stores": len(report.outcomes),
                "polled": report.polled,
                "failed": report.failed,
                "messages": report.messages,
            }
        )
    return {"tenants": summary}

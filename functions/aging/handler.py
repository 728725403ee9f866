"""The tenant's periodic housekeeping. Aging rules: stalled assigned tickets are reassigned or
escalated, the reason on their timeline, and snoozed tickets whose time has come are woken
(``helpdesk.routing.aging.AgingService``). Outbox: queued outbound messages that never reached the dispatcher
are put on its queue again (``helpdesk.replies.outbox.OutboxSweeper``). The event is the tenant's schedule
(``{"tenant_id": ...}``) or EventBridge's scheduled event (every tenant named in POLL_TENANT_IDS)."""

from __future__ import annotations

from typing import Any

from helpdesk.platform import wiring
from helpdesk.platform.config import settings
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("aging")
metrics = metrics_for("aging")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tenant = event.get("tenant_id") if isinstance(event, dict) else None
    tenants = [tenant] if isinstance(tenant, str) and tenant else list(settings().poll_tenant_ids)
    reports = {}
    for tenant_id in tenants:
        report = wiring.aging_service().run(tenant_id)
        metrics.add_metric(name="TicketsReassigned", unit=MetricUnit.Count, value=len(report.reassigned))
        metrics.add_metric(name="TicketsEscalated", unit=MetricUnit.Count, value=len(report.escalated))
        metrics.add_metric(name="TicketsWoken", unit=MetricUnit.Count, value=len(report.woken))
        swept = wiring.outbox_sweeper().sweep(tenant_id)
        metrics.add_metric(name="OutboundRequeued", unit=MetricUnit.Count, value=len(swept.requeued))
        logger.info("aging run", extra={"tenant_id": tenant_id, **report.as_dict(), "outbox": swept.as_dict()})
        reports[tenant_id] = {**report.as_dict(), "outbox": swept.as_dict()}
    return reports

"""The tenant's periodic housekeeping. Aging rules: stalled assigned tickets are reassigned or
escalated, the reason on their timeline, and snoozed tickets whose time has come are woken
(``helpdesk.aging.AgingService``). Outbox: queued outbound messages that never reached the dispatcher
are put on its queue again (``helpdesk.outbox.OutboxSweeper``). The event is the tenant's schedule
(``{"tenant_id": ...}``) or EventBridge's scheduled event (every tenant named in POLL_TENANT_IDS)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from helpdesk.adapters.aws import StepFunctionsSlaTimers
from helpdesk.adapters.outbound import SqsReplyQueue
from helpdesk.adapters.ticket_moves import TicketMoves
from helpdesk.aging import AgingService
from helpdesk.config import client, settings
from helpdesk.observability import MetricUnit, logger_for, metrics_for
from helpdesk.outbox import OutboxSweeper

logger = logger_for("aging")
metrics = metrics_for("aging")


@lru_cache(maxsize=1)
def repository() -> TicketMoves:
    return TicketMoves(client("dynamodb"), settings().table_name)


@lru_cache(maxsize=1)
def aging() -> AgingService:
    timers = StepFunctionsSlaTimers(client("stepfunctions"), settings().sla_state_machine_arn)
    return AgingService(repository(), timers=timers)


@lru_cache(maxsize=1)
def outbox() -> OutboxSweeper:
    return OutboxSweeper(repository(), SqsReplyQueue(client("sqs"), settings().outbound_queue_url))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tenant = event.get("tenant_id") if isinstance(event, dict) else None
    tenants = [tenant] if isinstance(tenant, str) and tenant else list(settings().poll_tenant_ids)
    reports = {}
    for tenant_id in tenants:
        report = aging().run(tenant_id)
        metrics.add_metric(name="TicketsReassigned", unit=MetricUnit.Count, value=len(report.reassigned))
        metrics.add_metric(name="TicketsEscalated", unit=MetricUnit.Count, value=len(report.escalated))
        metrics.add_metric(name="TicketsWoken", unit=MetricUnit.Count, value=len(report.woken))
        swept = outbox().sweep(tenant_id)
        metrics.add_metric(name="OutboundRequeued", unit=MetricUnit.Count, value=len(swept.requeued))
        logger.info("aging run", extra={"tenant_id": tenant_id, **report.as_dict(), "outbox": swept.as_dict()})
        reports[tenant_id] = {**report.as_dict(), "outbox": swept.as_dict()}
    return reports

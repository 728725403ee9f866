"""Lambda tasks of the intake workflow (infrastructure/statemachines/intake.asl.json): ``enrich``
(order context), ``decide`` (language, intent, rules, SLA; returns the timer to start and the
automatic replies the rules asked for), ``automate`` (those replies and drafts), ``failed`` (record
why). Thin: read the task payload, call the ``helpdesk`` services, return their answer."""

from __future__ import annotations

from typing import Any

from helpdesk.platform import wiring
from helpdesk.platform.observability import logger_for
from helpdesk.replies.automatic_answers import AutomationPlan
from helpdesk.routing.intake import event_ids

logger = logger_for("intake")


# The language models load at cold start (~0.7 s for the default languages), not on a buyer's message.
wiring.language_detector().preload()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tenant_id, ticket_id, message_id = event_ids(event)
    logger.append_keys(tenant_id=tenant_id, ticket_id=ticket_id, action=event.get("action"))
    match event.get("action"):
        case "enrich":
            result = wiring.intake_service().enrich(tenant_id, ticket_id)
        case "decide":
            result = wiring.intake_service().decide(tenant_id, ticket_id, message_id)
        case "automate":
            plan = AutomationPlan.model_validate(event.get("plan") or {})
            result = wiring.automation().run(tenant_id, ticket_id, plan)
        case "failed":
            result = wiring.intake_service().failed(tenant_id, ticket_id, str(event.get("error") or ""))
        case other:
            raise ValueError(f"unknown intake action {other!r}")
    logger.info("intake step done", extra={"result": {k: v for k, v in result.items() if k != "timer"}})
    return result

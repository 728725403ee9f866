"""Lambda tasks of the intake workflow (infrastructure/statemachines/intake.asl.json): ``enrich``
(order context), ``decide`` (language, intent, rules, SLA; returns the timer to start and the
automatic replies the rules asked for), ``automate`` (those replies and drafts), ``failed`` (record
why). Thin: read the task payload, call the ``helpdesk`` services, return their answer."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from helpdesk.adapters.channel_orders import ChannelOrders
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.language_services import drafter
from helpdesk.adapters.outbound import DynamoMacros, SqsReplyQueue
from helpdesk.automation import AutomationPlan, AutomationService
from helpdesk.config import client, settings
from helpdesk.intake_service import IntakeService, event_ids
from helpdesk.language import LinguaDetector
from helpdesk.observability import logger_for

logger = logger_for("intake")


# The language models load at cold start (~0.7 s for the default languages), not on a buyer's message.
languages = LinguaDetector()
languages.preload()


@lru_cache(maxsize=1)
def repository() -> DynamoRepository:
    return DynamoRepository(client("dynamodb"), settings().table_name)


@lru_cache(maxsize=1)
def service() -> IntakeService:
    return IntakeService(repository(), ChannelOrders(), languages=languages)


@lru_cache(maxsize=1)
def automation() -> AutomationService:
    db, table = client("dynamodb"), settings().table_name
    return AutomationService(repository(), DynamoMacros(db, table), SqsReplyQueue(client("sqs"),
                             settings().outbound_queue_url), drafter=drafter(), snippets=repository())


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tenant_id, ticket_id, message_id = event_ids(event)
    logger.append_keys(tenant_id=tenant_id, ticket_id=ticket_id, action=event.get("action"))
    match event.get("action"):
        case "enrich":
            result = service().enrich(tenant_id, ticket_id)
        case "decide":
            result = service().decide(tenant_id, ticket_id, message_id)
        case "automate":
            result = automation().run(tenant_id, ticket_id, AutomationPlan.model_validate(event.get("plan") or {}))
        case "failed":
            result = service().failed(tenant_id, ticket_id, str(event.get("error") or ""))
        case other:
            raise ValueError(f"unknown intake action {other!r}")
    logger.info("intake step done", extra={"result": {k: v for k, v in result.items() if k != "timer"}})
    return result

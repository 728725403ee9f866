"""The table's stream (ticket and message items; template.yaml filters the rest out) → report
aggregates, the breaches list and satisfaction requests (``helpdesk.ticket_events``). Thin: turn the
stream images into models, hand the batch to the processor. A failure fails the whole batch, which
the stream delivers again (the processor's writes are idempotent per batch)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from helpdesk.adapters.dynamodb import DynamoRepository, from_item
from helpdesk.adapters.outbound import SqsReplyQueue
from helpdesk.adapters.report_store import ReportStore
from helpdesk.config import client, secret_bytes, settings
from helpdesk.csat import SurveyService, should_request
from helpdesk.models import Message, Ticket
from helpdesk.observability import logger_for
from helpdesk.ticket_events import MessageChange, TicketChange, TicketEventProcessor, batch_id

logger = logger_for("ticket-events")


def signing_key() -> bytes:
    return secret_bytes(settings().csat_secret_arn)


@lru_cache(maxsize=1)
def processor() -> TicketEventProcessor:
    cfg = settings()
    repository = DynamoRepository(client("dynamodb"), cfg.table_name)
    surveys = SurveyService(repository, SqsReplyQueue(client("sqs"), cfg.outbound_queue_url), signing_key,
                            cfg.public_api_url or cfg.api_url)
    return TicketEventProcessor(repository, ReportStore(client("dynamodb"), cfg.table_name), surveys, should_request)


def change(record: dict[str, Any]) -> TicketChange | MessageChange | None:
    data = record.get("dynamodb", {})
    sk = data.get("Keys", {}).get("SK", {}).get("S", "")
    old, new = data.get("OldImage"), data.get("NewImage")
    if sk == "TICKET":
        return TicketChange(from_item(Ticket, old) if old else None, from_item(Ticket, new) if new else None)
    if sk.startswith("MSG#") and new:
        return MessageChange(from_item(Message, old) if old else None, from_item(Message, new))
    return None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    changes = [c for c in (change(r) for r in records) if c is not None]
    sequence = [str(r.get("dynamodb", {}).get("SequenceNumber", "")) for r in records]
    result = processor().process(changes, batch_id(sequence, datetime.now(UTC)))
    logger.info("ticket events processed", extra={"records": len(records), **result})
    return result

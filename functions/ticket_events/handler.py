"""The table's stream (ticket and message items; template.yaml filters the rest out) → report
aggregates, the breaches list and satisfaction requests (``helpdesk.reports.stream``). Thin: turn the
stream images into models, hand the batch to the processor. A failure fails the whole batch, which
the stream delivers again (the processor's writes are idempotent per batch)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from helpdesk.platform import wiring
from helpdesk.platform.observability import logger_for
from helpdesk.reports.stream import batch_id

logger = logger_for("ticket-events")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    changes = [c for c in (wiring.stream_change(r) for r in records) if c is not None]
    sequence = [str(r.get("dynamodb", {}).get("SequenceNumber", "")) for r in records]
    result = wiring.ticket_event_processor().process(changes, batch_id(sequence, datetime.now(UTC)))
    logger.info("ticket events processed", extra={"records": len(records), **result})
    return result

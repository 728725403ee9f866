"""SQS consumer of the ingest queue: canonical envelopes → orders and tickets in DynamoDB.

Thin order events (an id and a status) are completed from the channel's order API before they are
stored; when the channel fails the event is stored as it came and the failure logged.

Powertools batch processing reports each failed record on its own, so one bad message goes back
to the queue (and after maxReceiveCount to the dead-letter queue) without holding up the batch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from helpdesk.core.models import IngestEnvelope
from helpdesk.platform import wiring
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("ingest-consumer")
metrics = metrics_for("ingest-consumer")


class IngestRecord(SqsRecordModel):
    """An SQS record whose body is a canonical envelope (validated by Powertools' parser)."""

    body: Json[IngestEnvelope]


processor = BatchProcessor(event_type=EventType.SQS, model=IngestRecord)


def record_handler(record: IngestRecord) -> None:
    envelope = record.body
    result = wiring.envelope_processor().process(envelope)
    logger.info(
        "envelope processed",
        extra={
            "tenant_id": envelope.tenant_id,
            "store_id": envelope.store_id,
            "delivery_id": envelope.delivery_id,
            "tickets_created": result.tickets_created,
            "messages_stored": result.messages_stored,
            "duplicates": result.duplicates,
            "orders_written": result.orders_written,
            "orders_refreshed": result.orders_refreshed,
            "nudges": list(result.nudges),
        },
    )
    for failure in result.order_refresh_failures:
        logger.warning(
            "order refresh failed; stored what the event carried",
            extra={
                "tenant_id": envelope.tenant_id,
                "store_id": failure.store_id,
                "order_ref": failure.order_ref,
                "delivery_id": envelope.delivery_id,
                "error": failure.reason,
            },
        )
    metrics.add_metric(name="TicketsCreated", unit=MetricUnit.Count, value=result.tickets_created)
    metrics.add_metric(name="MessagesStored", unit=MetricUnit.Count, value=result.messages_stored)
    if result.order_refresh_failures:
        metrics.add_metric(name="OrderRefreshFailures", unit=MetricUnit.Count, value=len(result.order_refresh_failures))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

"""SP-API notifications (ORDER_CHANGE) from the SQS queue the seller's SP-API destination points at.

Batch processing with partial failures (Powertools): a notification that cannot be read or routed
is quarantined in S3 and acknowledged (retrying cannot fix it); any other failure is reported so
SQS retries it, then moves it to the dead-letter queue (``make redrive`` after the fix).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from helpdesk.core.errors import MalformedPayload, NotFound
from helpdesk.platform import wiring
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("amazon-notifications")
metrics = metrics_for("amazon-notifications")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    try:
        outcome = wiring.amazon_notification_ingestor().ingest(record.body)
    except (MalformedPayload, NotFound) as exc:
        logger.warning("notification quarantined", extra={"reason": exc.message, "message_id": record.message_id})
        metrics.add_metric(name="NotificationsQuarantined", unit=MetricUnit.Count, value=1)
        return
    logger.info(
        "notification queued",
        extra={"notification_id": outcome.notification_id, "store_id": outcome.store_id, "messages": outcome.messages},
    )
    metrics.add_metric(name="NotificationsQueued", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

"""SQS consumer of the outbound queue: each record names one queued reply, sent through its
ticket's channel by ``helpdesk.replies.agent_replies.DispatchService`` (the rules of retrying and recording are
there). Powertools batch processing reports records to retry on their own; the queue's redrive
policy moves a reply that keeps crashing the function to the dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, Json

from helpdesk.platform import wiring
from helpdesk.platform.config import settings
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("reply-dispatch")
metrics = metrics_for("reply-dispatch")


class ReplyRef(BaseModel):
    tenant_id: str
    ticket_id: str
    message_id: str


class DispatchRecord(SqsRecordModel):
    body: Json[ReplyRef]


processor = BatchProcessor(event_type=EventType.SQS, model=DispatchRecord)


def record_handler(record: DispatchRecord) -> None:
    ref = record.body
    receives = int(record.attributes.ApproximateReceiveCount)
    logger.append_keys(tenant_id=ref.tenant_id, ticket_id=ref.ticket_id, message_id=ref.message_id)
    result = wiring.reply_dispatcher().dispatch(
        ref.tenant_id, ref.ticket_id, ref.message_id, final_attempt=receives >= settings().dispatch_max_receives
    )
    logger.info("reply dispatched", extra={"outcome": result.outcome, "error": result.error, "receives": receives})
    metrics.add_metric(
        name="RepliesSent" if result.outcome == "sent" else "RepliesNotSent", unit=MetricUnit.Count, value=1
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

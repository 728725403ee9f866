"""SES receipt rule → this function: the raw MIME SES's S3 action stored becomes canonical messages
on the ingest queue (``helpdesk.mail.MailIngestor`` decides; this adapter only reads the event).

SES invokes the Lambda action asynchronously; a failure is retried by Lambda and then lands in the
function's on-failure destination (the ingest dead-letter queue), while the raw message stays in S3
either way: nothing is lost, and ``make replay`` can read it again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from helpdesk.adapters.aws import S3RawStore, S3Reader, SqsEnvelopePublisher
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.config import client, settings
from helpdesk.errors import MalformedPayload
from helpdesk.mail import MailIngestor
from helpdesk.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("mail-inbound")
metrics = metrics_for("mail-inbound")
SES_PREFIX = "ses/"


@lru_cache(maxsize=1)
def ingestor() -> MailIngestor:
    cfg = settings()
    repository = DynamoRepository(client("dynamodb"), cfg.table_name)
    return MailIngestor(
        repository,
        S3Reader(client("s3")),
        S3RawStore(client("s3"), cfg.raw_bucket),
        SqsEnvelopePublisher(client("sqs"), cfg.inbound_queue_url),
        object_prefix=SES_PREFIX,
        errors=repository,
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcomes = []
    for record in event.get("Records") or []:
        try:
            outcome = ingestor().ingest(record, default_bucket=settings().raw_bucket)
        except MalformedPayload as exc:  # not an SES event we can read: nothing to retry
            logger.error("SES event refused", extra={"reason": exc.message})
            metrics.add_metric(name="MailRefused", unit=MetricUnit.Count, value=1)
            outcomes.append({"error": exc.message})
            continue
        logger.info("mail received", extra=outcome.as_dict())
        metrics.add_metric(name="MailMessages", unit=MetricUnit.Count, value=outcome.messages)
        outcomes.append(outcome.as_dict())
    return {"outcomes": outcomes}

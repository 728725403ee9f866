"""SES receipt rule → this function: the raw MIME SES's S3 action stored becomes canonical messages
on the ingest queue (``helpdesk.ingest.inbound_mail.MailIngestor`` decides; this adapter only reads the event).

SES invokes the Lambda action asynchronously; a failure is retried by Lambda and then lands in the
function's on-failure destination (the ingest dead-letter queue), while the raw message stays in S3
either way: nothing is lost, and ``make replay`` can read it again.
"""

from __future__ import annotations

from typing import Any

from helpdesk.core.errors import MalformedPayload
from helpdesk.platform import wiring
from helpdesk.platform.config import settings
from helpdesk.platform.observability import MetricUnit, logger_for, metrics_for

logger = logger_for("mail-inbound")
metrics = metrics_for("mail-inbound")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcomes: list[dict[str, Any]] = []
    for record in event.get("Records") or []:
        try:
            outcome = wiring.mail_ingestor().ingest(record, default_bucket=settings().raw_bucket)
        except MalformedPayload as exc:  # not an SES event we can read: nothing to retry
            logger.error("SES event refused", extra={"reason": exc.message})
            metrics.add_metric(name="MailRefused", unit=MetricUnit.Count, value=1)
            outcomes.append({"error": exc.message})
            continue
        logger.info("mail received", extra=outcome.as_dict())
        metrics.add_metric(name="MailMessages", unit=MetricUnit.Count, value=outcome.messages)
        outcomes.append(outcome.as_dict())
    return {"outcomes": outcomes}

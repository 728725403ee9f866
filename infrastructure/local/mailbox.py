"""The local stack's e-mail channel: what SES does on receipt — keep the raw MIME under ``ses/`` in
the raw bucket (the S3 action), then invoke the mail function with SES's Lambda event (the Lambda
action) — so the real mail function, parser and threading run on every local e-mail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from infrastructure.local.stack import LocalStack

INBOUND_DOMAIN = "inbound.example.com"


def ses_event(
    message_id: str,
    recipients: list[str],
    source: str,
    *,
    virus: str = "PASS",
    spam: str = "PASS",
    at: datetime | None = None,
) -> dict[str, Any]:
    """An SES receipt event for the Lambda action, shaped as SES documents it."""
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    verdict = {"status": "PASS"}
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": stamp,
                        "source": source,
                        "messageId": message_id,
                        "destination": recipients,
                        "headersTruncated": False,
                        "headers": [],
                        "commonHeaders": {},
                    },
                    "receipt": {
                        "timestamp": stamp,
                        "processingTimeMillis": 320,
                        "recipients": recipients,
                        "spamVerdict": {"status": spam},
                        "virusVerdict": {"status": virus},
                        "spfVerdict": verdict,
                        "dkimVerdict": verdict,
                        "dmarcVerdict": verdict,
                        "action": {
                            "type": "Lambda",
                            "invocationType": "Event",
                            "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:mail",
                        },
                    },
                },
            }
        ]
    }


def deliver(
    stack: LocalStack, raw: bytes, recipients: list[str], source: str = "buyer@example.com", **verdicts: str
) -> dict[str, Any]:
    message_id = uuid.uuid4().hex
    stack.client("s3").put_object(Bucket=stack.resolver.refs["RawPayloadBucket"], Key=f"ses/{message_id}", Body=raw)
    return stack.functions["MailInboundFunction"].invoke(ses_event(message_id, recipients, source, **verdicts))


def compose(
    sender: tuple[str, str],
    to: str,
    subject: str,
    body: str,
    *,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
) -> tuple[str, bytes]:
    """A plain buyer e-mail as a mail client sends it; returns (Message-ID without <>, raw bytes)."""
    message = EmailMessage()
    message["From"] = f"{sender[0]} <{sender[1]}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    msgid = make_msgid(domain=sender[1].split("@")[-1])
    message["Message-ID"] = msgid
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        message["References"] = " ".join(f"<{r}>" for r in references)
    message.set_content(body)
    return msgid.strip("<>"), message.as_bytes()


def sent_mail(stack: LocalStack) -> list[dict[str, Any]]:
    """What the helpdesk sent through SES (moto keeps it in-process: the local outbox), oldest first."""
    from moto.ses.models import ses_backends

    from infrastructure.local.stack import ACCOUNT_ID, REGION

    backend = ses_backends[ACCOUNT_ID][REGION]
    return [
        {"id": m.id, "source": m.source, "destinations": list(m.destinations), "raw": m.raw_data}
        for m in backend.sent_messages
    ]

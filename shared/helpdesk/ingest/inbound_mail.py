"""Inbound e-mail: from SES's receipt to canonical messages on the ingest queue. Plain Python.

SES receives mail for the inbound domain; a receipt rule's S3 action keeps the raw MIME, then its
Lambda action hands the event to the mail function. For each recipient ``<tenant>+<store>@domain``
that names a live e-mail (or Amazon relay) store:

1. a message SES found a virus in is not stored or shown (it stays where SES put it);
2. the raw MIME is copied under ``raw/<tenant>/<channel>/<store>/<day>/<ses id>`` (replayable like
   any delivery) and every attachment under ``attachments/...``;
3. the message is parsed (an unreadable one is kept under ``quarantine/`` with the reason);
4. auto-replies and bounces are kept but open no ticket (an out-of-office must not reset an SLA);
5. an Amazon store's relay e-mail is read as Amazon's buyer message (order id, relay alias to
   answer), any other as a plain e-mail; the envelope goes on the ingest queue, where threading by
   References / order / buyer e-mail happens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from helpdesk.channels import email as email_channel
from helpdesk.core.clock import utc_now
from helpdesk.core.errors import MalformedPayload
from helpdesk.core.models import Attachment, Channel, InboundMessage, IngestEnvelope, IngestError, Store
from helpdesk.ingest.ports import EnvelopePublisher, IngestErrorLog, RawMailReader, RawPayloadStore, StoreLookup
from helpdesk.ingest.webhooks import raw_key
from helpdesk.stores.connections import parse_inbound_address

MAIL_STORE_CHANNELS = frozenset({Channel.EMAIL, Channel.AMAZON})
MAX_ATTACHMENTS = 20


@dataclass
class MailOutcome:
    ses_message_id: str
    stores: list[str] = field(default_factory=list)
    messages: int = 0
    skipped: list[str] = field(default_factory=list)  # why a recipient produced no message

    def as_dict(self) -> dict[str, object]:
        return {
            "ses_message_id": self.ses_message_id,
            "stores": self.stores,
            "messages": self.messages,
            "skipped": self.skipped,
        }


class MailIngestor:
    def __init__(
        self,
        stores: StoreLookup,
        reader: RawMailReader,
        raw_store: RawPayloadStore,
        publisher: EnvelopePublisher,
        *,
        object_prefix: str = "",
        clock: Callable[[], datetime] = utc_now,
        errors: IngestErrorLog | None = None,
    ) -> None:
        self._errors = errors
        self._stores = stores
        self._reader = reader
        self._raw = raw_store
        self._publisher = publisher
        self._prefix = object_prefix
        self._clock = clock

    def ingest(self, record: Mapping[str, object], default_bucket: str) -> MailOutcome:
        receipt = email_channel.parse_ses_event_record(dict(record))
        outcome = MailOutcome(receipt.message_id)
        if receipt.rejected:
            outcome.skipped.append("virus verdict FAIL: not stored")
            return outcome
        stores = self._stores_for(receipt.recipients, outcome)
        if not stores:
            return outcome
        raw = self._reader.read(receipt.s3_bucket or default_bucket, receipt.object_key(self._prefix))
        digest = email_channel.raw_digest(raw)
        for store in stores:
            self._ingest_for(store, receipt, raw, digest, outcome)
        return outcome

    def _stores_for(self, recipients: tuple[str, ...], outcome: MailOutcome) -> list[Store]:
        found: dict[tuple[str, str], Store] = {}
        for recipient in recipients:
            address = parse_inbound_address(recipient)
            if address is None:
                outcome.skipped.append(f"{recipient}: not a store address")
                continue
            store = self._stores.get_store(*address)
            if store is None or store.disconnected_at is not None or store.channel not in MAIL_STORE_CHANNELS:
                outcome.skipped.append(f"{recipient}: no e-mail store there")
                continue
            found[address] = store
        return list(found.values())

    def _ingest_for(
        self, store: Store, receipt: email_channel.SesReceipt, raw: bytes, digest: str, outcome: MailOutcome
    ) -> None:
        at = receipt.timestamp
        delivery_id = f"ses-{receipt.message_id}"
        metadata = {
            "delivery-id": delivery_id,
            "received-at": at.isoformat(),
            "headers": json.dumps(
                {
                    "content-type": "message/rfc822",
                    "x-ses-spam": receipt.spam,
                    "x-ses-dkim": receipt.dkim,
                    "x-ses-spf": receipt.spf,
                }
            ),
        }
        try:
            parsed = email_channel.parse_mime(raw)
        except MalformedPayload as exc:
            self._quarantine(store, delivery_id, at, raw, metadata, exc.message)
            outcome.skipped.append(f"{store.store_id}: {exc.message}")
            return
        key = raw_key("raw", store, delivery_id, at)
        self._raw.put(key, raw, "message/rfc822", metadata)
        outcome.stores.append(store.store_id)
        if parsed.auto_generated:
            outcome.skipped.append(f"{store.store_id}: automatic message ({parsed.auto_reason}): kept, no ticket")
            return
        attachments = self._store_attachments(store, delivery_id, parsed)
        try:
            inbound = self._inbound(store, parsed, key, at, attachments, digest)
        except MalformedPayload as exc:
            self._quarantine(store, delivery_id, at, raw, metadata, exc.message)
            outcome.skipped.append(f"{store.store_id}: {exc.message}")
            return
        if receipt.suspicious:  # spam, or SPF/DKIM/DMARC failed: the agent sees it before trusting the sender
            inbound = inbound.model_copy(update={"subject": f"[suspicious] {inbound.subject or ''}".strip()})
        self._publisher.publish(
            IngestEnvelope(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=store.channel,
                delivery_id=delivery_id,
                raw_s3_key=key,
                messages=[inbound],
            )
        )
        outcome.messages += 1

    def _quarantine(
        self, store: Store, delivery_id: str, at: datetime, raw: bytes, metadata: dict[str, str], reason: str
    ) -> None:
        key = raw_key("quarantine", store, delivery_id, at)
        self._raw.put(key, raw, "message/rfc822", {**metadata, "reason": reason[:512]})
        if self._errors is not None:
            self._errors.record_ingest_error(
                IngestError(
                    tenant_id=store.tenant_id,
                    store_id=store.store_id,
                    channel=store.channel,
                    delivery_id=delivery_id,
                    reason=reason[:500],
                    quarantine_key=key,
                    at=at,
                )
            )

    def _store_attachments(self, store: Store, delivery_id: str, parsed: email_channel.ParsedEmail) -> list[Attachment]:
        kept = []
        for index, part in enumerate(parsed.attachments[:MAX_ATTACHMENTS]):
            key = email_channel.attachment_key(store.tenant_id, store.store_id, delivery_id, index, part.filename)
            self._raw.put(key, part.data, part.content_type, {"filename": part.filename[:200]})
            kept.append(Attachment(s3_key=key, filename=part.filename, content_type=part.content_type, size=part.size))
        return kept

    @staticmethod
    def _inbound(
        store: Store,
        parsed: email_channel.ParsedEmail,
        key: str,
        at: datetime,
        attachments: list[Attachment],
        digest: str,
    ) -> InboundMessage:
        if store.channel == Channel.AMAZON:
            from helpdesk.channels import amazon

            if amazon.is_relay_email(parsed):
                return amazon.relay_inbound(
                    store, parsed, raw_s3_key=key, received_at=at, attachments=attachments, raw_digest=digest
                )
        return email_channel.to_inbound(
            store, parsed, raw_s3_key=key, received_at=at, attachments=attachments, raw_digest=digest
        )

"""Nothing lost: re-ingest kept raw payloads, and move dead letters back. Plain Python.

Replay: every webhook delivery is kept byte for byte under ``raw/<tenant>/<channel>/<store>/<day>/
<delivery id>`` with the channel headers the parser reads (signatures and credentials are not kept:
the delivery was verified when it arrived). Replaying a store over a time window parses each kept
delivery again with today's connector (a parser fix applies to old deliveries) and queues the
envelopes again. It is idempotent: the consumer stores a channel message once (dedup marker) and an
order only if it is not older than the stored one, so a replay run twice changes nothing more.

Poll pages are kept too (``.../poll-<digest>/page-NNN.json``), but a page only makes sense to the
connector's paging; a polled store is replayed by rewinding its poll cursor to the window's start,
so the next tick fetches the window again from the channel (deduplicated the same way).

Redrive: messages that failed processing sit in the ingest queue's dead-letter queue after their
retries; once the cause is fixed they are moved back to the queue (and deleted from the DLQ only
after they were sent).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from helpdesk.channels import is_polled, webhook_connector
from helpdesk.core.errors import HelpdeskError, NotFound
from helpdesk.core.models import IngestEnvelope, Store
from helpdesk.ingest.ports import DeadLetters, EnvelopeSink, RawArchive, ReplayRepository


@dataclass(frozen=True)
class RawObject:
    key: str
    body: bytes
    metadata: Mapping[str, str]
    last_modified: datetime


@dataclass
class ReplayReport:
    deliveries: int = 0
    messages: int = 0
    order_events: int = 0
    skipped_poll_pages: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    cursor_rewound_to: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "deliveries": self.deliveries,
            "messages": self.messages,
            "order_events": self.order_events,
            "skipped_poll_pages": self.skipped_poll_pages,
            "failed": [list(f) for f in self.failed],
            "cursor_rewound_to": self.cursor_rewound_to,
        }


class ReplayService:
    def __init__(self, repository: ReplayRepository, archive: RawArchive, sink: EnvelopeSink) -> None:
        self._repo = repository
        self._archive = archive
        self._sink = sink

    def replay(self, tenant_id: str, store_id: str, start: datetime, end: datetime) -> ReplayReport:
        if end <= start:
            raise ValueError("the window's end must be after its start")
        store = self._repo.get_store(tenant_id, store_id)
        if store is None:
            raise NotFound("store not found", store_id=store_id)
        report = ReplayReport()
        if is_polled(store.channel.value):
            report.cursor_rewound_to = self._rewind(store, start)
            return report
        connector = webhook_connector(store.channel.value)
        for key in self._keys(store, start, end):
            if "/poll-" in key:
                report.skipped_poll_pages += 1
                continue
            raw = self._archive.get(key)
            received_at = _received_at(raw)
            if not start <= received_at < end:
                continue
            headers = _headers(raw)
            delivery_id = raw.metadata.get("delivery-id") or key.rsplit("/", 1)[-1]
            try:
                parsed = connector.parse(store, headers, raw.body, key, received_at)
            except HelpdeskError as exc:
                report.failed.append((key, exc.message))
                continue
            self._sink.publish(
                IngestEnvelope(
                    tenant_id=tenant_id,
                    store_id=store_id,
                    channel=store.channel,
                    delivery_id=f"replay-{delivery_id}",
                    raw_s3_key=key,
                    messages=parsed.messages,
                    order_events=parsed.order_events,
                )
            )
            report.deliveries += 1
            report.messages += len(parsed.messages)
            report.order_events += len(parsed.order_events)
        return report

    def _keys(self, store: Store, start: datetime, end: datetime) -> Iterable[str]:
        day = start.date()
        while day <= end.date():
            yield from self._archive.keys(
                f"raw/{store.tenant_id}/{store.channel.value}/{store.store_id}/{day:%Y/%m/%d}/"
            )
            day += timedelta(days=1)

    def _rewind(self, store: Store, start: datetime) -> str:
        value = start.isoformat().replace("+00:00", "Z")
        self._repo.set_cursor(store.tenant_id, store.store_id, "inbox", value)
        return value


def _received_at(raw: RawObject) -> datetime:
    stamp = raw.metadata.get("received-at")
    if stamp:
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            pass
    return raw.last_modified


def _headers(raw: RawObject) -> dict[str, str]:
    try:
        headers = json.loads(raw.metadata.get("headers") or "{}")
    except json.JSONDecodeError:
        headers = {}
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


# --- dead letters ------------------------------------------------------------------------------


def redrive(
    dead_letters: DeadLetters, *, maximum: int = 10_000, progress: Callable[[int], None] = lambda moved: None
) -> int:
    """Move dead letters back to their queue; each is deleted only after it was sent."""
    moved = 0
    while moved < maximum:
        batch = dead_letters.receive(min(10, maximum - moved))
        if not batch:
            break
        for handle, body, attributes in batch:
            dead_letters.send_back(body, attributes)
            dead_letters.delete(handle)
            moved += 1
        progress(moved)
    return moved

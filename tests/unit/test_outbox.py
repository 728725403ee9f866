"""The outbox sweep: queued outbound messages that never reached the dispatcher are put on its queue
again, each looked at again only later, and a refused publish is retried on the next run."""

from __future__ import annotations

from datetime import datetime, timedelta

from helpdesk.replies.outbox import CHECK_AFTER, RECHECK_AFTER, OutboxEntry, OutboxSweeper
from tests.unit.builders import NOW, TENANT


class FakeOutbox:
    def __init__(self, entries: list[OutboxEntry]) -> None:
        self.entries = {e.message_id: e for e in entries}
        self.claimed: set[str] = set()

    def due_outbound(self, tenant_id: str, now: datetime, limit: int) -> list[OutboxEntry]:
        assert tenant_id == TENANT
        due = sorted((e for e in self.entries.values() if e.check_at <= now), key=lambda e: e.check_at)
        return due[:limit]

    def postpone_outbound(self, tenant_id: str, entry: OutboxEntry, check_at: datetime) -> bool:
        if entry.message_id in self.claimed:
            self.entries.pop(entry.message_id, None)
            return False
        self.entries[entry.message_id] = OutboxEntry(entry.ticket_id, entry.message_id, entry.created_at, check_at)
        return True


class FakeQueue:
    def __init__(self, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.published: list[tuple[str, str, str]] = []
        self.refuse = refuse

    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        if message_id in self.refuse:
            raise ConnectionError("queue unreachable")
        self.published.append((tenant_id, ticket_id, message_id))


def entry(message_id: str, stored_minutes_ago: float) -> OutboxEntry:
    created = NOW - timedelta(minutes=stored_minutes_ago)
    return OutboxEntry("t-1", message_id, created, created + CHECK_AFTER)


def test_messages_due_a_look_are_queued_again_and_looked_at_again_later() -> None:
    outbox = FakeOutbox([entry("old", 60), entry("due", 5), entry("fresh", 1)])
    queue = FakeQueue()
    clock = [NOW]
    sweeper = OutboxSweeper(outbox, queue, clock=lambda: clock[0])
    report = sweeper.sweep(TENANT)
    assert report.requeued == ["old", "due"] and report.not_queued == []
    assert queue.published == [(TENANT, "t-1", "old"), (TENANT, "t-1", "due")]
    assert outbox.entries["old"].check_at == NOW + RECHECK_AFTER
    assert sweeper.sweep(TENANT).requeued == []  # fresh is not due yet, the others wait RECHECK_AFTER
    clock[0] = NOW + RECHECK_AFTER
    assert sorted(sweeper.sweep(TENANT).requeued) == ["due", "fresh", "old"]


def test_a_refused_publish_stays_due_for_the_next_run() -> None:
    outbox = FakeOutbox([entry("a", 10), entry("b", 10)])
    queue = FakeQueue(refuse={"a"})
    sweeper = OutboxSweeper(outbox, queue, clock=lambda: NOW)
    report = sweeper.sweep(TENANT)
    assert report.as_dict() == {"requeued": ["b"], "not_queued": ["a"]}
    queue.refuse = set()
    assert sweeper.sweep(TENANT).requeued == ["a"]


def test_a_message_claimed_meanwhile_is_left_alone_and_the_run_is_bounded() -> None:
    outbox = FakeOutbox([entry(f"m{i:03d}", 30) for i in range(5)])
    outbox.claimed = {"m000"}
    sweeper = OutboxSweeper(outbox, FakeQueue(), clock=lambda: NOW, limit=3)
    assert len(sweeper.sweep(TENANT).requeued) == 3
    assert "m000" not in outbox.entries

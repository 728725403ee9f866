"""PollService: fan-out over a tenant's poll-based stores, cursors after queueing, backoff, health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from helpdesk.channels.base import PollResult
from helpdesk.core.errors import ChannelError, Conflict
from helpdesk.core.models import Channel, Store, StoreHealth
from helpdesk.ingest import polling
from helpdesk.ingest.polling import PollService, backoff_for
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.raw_store import InMemoryRawStore
from tests.unit.builders import NOW, TENANT, make_inbound, make_store


@dataclass
class PollRepo:
    stores: list[Store] = field(default_factory=list)
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    health: dict[str, StoreHealth] = field(default_factory=dict)

    def list_stores(self, tenant_id: str) -> list[Store]:
        return [s for s in self.stores if s.tenant_id == tenant_id]

    def get_cursor(self, tenant_id: str, store_id: str, stream: str) -> str | None:
        return self.cursors.get((store_id, stream))

    def advance_cursor(self, tenant_id: str, store_id: str, stream: str, previous: str | None, new: str) -> None:
        if self.cursors.get((store_id, stream)) != previous:
            raise Conflict("moved")
        self.cursors[(store_id, stream)] = new

    def get_health(self, tenant_id: str, store_id: str) -> StoreHealth | None:
        return self.health.get(store_id)

    def put_health(self, health: StoreHealth) -> None:
        self.health[health.store_id] = health


class Credentials:
    def credentials(self, store: Store) -> Mapping[str, str]:
        return {"api_key": f"key-{store.store_id}"}


class FakeHttp:
    closed = 0

    def close(self) -> None:
        FakeHttp.closed += 1


@dataclass
class FakeConnector:
    """Answers per store: a PollResult, or an exception to raise."""

    answers: dict[str, Any] = field(default_factory=dict)
    seen: list[tuple[str, str | None, dict]] = field(default_factory=list)
    channel: str = "mirakl"

    def client(self, store: Store, credentials: Mapping[str, str]) -> FakeHttp:
        self.seen.append((store.store_id, None, dict(credentials)))
        return FakeHttp()

    def poll(self, store: Store, http: Any, cursor: str | None, now: datetime) -> PollResult:
        self.seen.append((store.store_id, cursor, {}))
        answer = self.answers.get(store.store_id, PollResult())
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch) -> FakeConnector:
    fake = FakeConnector()
    monkeypatch.setattr(polling, "poll_connector", lambda channel: fake)
    return fake


def mirakl(store_id: str, **kw: Any) -> Store:
    return make_store(store_id=store_id, channel=Channel.MIRAKL, base_url=f"https://{store_id}.example", **kw)


def service(repo: PollRepo, raw: InMemoryRawStore, pub: RecordingPublisher, now: datetime = NOW) -> PollService:
    return PollService(repo, Credentials(), raw, pub, clock=lambda: now, max_workers=8)


def test_only_active_poll_based_stores_are_polled(connector: FakeConnector) -> None:
    repo = PollRepo(stores=[mirakl("m1"), mirakl("m2", active=False), make_store(store_id="woo")])
    report = service(repo, InMemoryRawStore(), RecordingPublisher()).tick(TENANT)
    assert [o.store_id for o in report.outcomes] == ["m1"]
    assert ("m1", None, {"api_key": "key-m1"}) in connector.seen


def test_messages_are_queued_with_raw_pages_kept_before_the_cursor_moves(connector: FakeConnector) -> None:
    msgs = [make_inbound(channel=Channel.MIRAKL, store_id="m1", channel_message_id=f"x{i}") for i in range(30)]
    connector.answers["m1"] = PollResult(
        messages=msgs, next_cursor="2024-03-01T11:59:00Z", raw_pages=[b'{"data": [1]}', b'{"data": [2]}']
    )
    repo, raw, pub = PollRepo(stores=[mirakl("m1")]), InMemoryRawStore(), RecordingPublisher()
    report = service(repo, raw, pub).tick(TENANT)
    assert report.messages == 30 and report.failed == 0
    pages = sorted(raw.objects)
    assert [raw.objects[k].body for k in pages] == [b'{"data": [1]}', b'{"data": [2]}']  # byte for byte
    assert [len(e.messages) for e in pub.envelopes] == [25, 5]  # split far below SQS's 256 KB
    prefix = pages[0].rsplit("/", 1)[0]
    assert all(m.raw_s3_key == prefix for e in pub.envelopes for m in e.messages)
    assert repo.cursors[("m1", "inbox")] == "2024-03-01T11:59:00Z"
    health = repo.health["m1"]
    assert health.healthy and health.last_message_at == NOW and health.last_success_at == NOW


def test_a_failing_publish_leaves_the_cursor_where_it_was(connector: FakeConnector) -> None:
    connector.answers["m1"] = PollResult(
        messages=[make_inbound(channel=Channel.MIRAKL, store_id="m1")], next_cursor="new", raw_pages=[b"{}"]
    )

    class BrokenQueue(RecordingPublisher):
        def publish(self, envelope: Any) -> None:
            raise RuntimeError("SQS unavailable")

    repo = PollRepo(stores=[mirakl("m1")], cursors={("m1", "inbox"): "old"})
    report = service(repo, InMemoryRawStore(), BrokenQueue()).tick(TENANT)
    assert report.failed == 1
    assert repo.cursors[("m1", "inbox")] == "old"  # the same items are fetched again next tick


def test_a_failing_store_backs_off_and_does_not_block_the_others(connector: FakeConnector) -> None:
    connector.answers["bad"] = ChannelError("mirakl answered HTTP 500")
    connector.answers["good"] = PollResult(
        messages=[make_inbound(channel=Channel.MIRAKL, store_id="good")], next_cursor="c1", raw_pages=[b"{}"]
    )
    repo, pub = PollRepo(stores=[mirakl("bad"), mirakl("good")]), RecordingPublisher()
    report = service(repo, InMemoryRawStore(), pub).tick(TENANT)
    assert {o.store_id: o.ok for o in report.outcomes} == {"bad": False, "good": True}
    assert len(pub.envelopes) == 1
    bad = repo.health["bad"]
    assert bad.consecutive_failures == 1 and bad.last_error == "mirakl answered HTTP 500"
    assert bad.next_poll_after == NOW + timedelta(minutes=1) and not bad.healthy

    # Within the backoff the store is skipped; after it, polled again, and a success clears it.
    later = service(repo, InMemoryRawStore(), pub, now=NOW + timedelta(seconds=30)).tick(TENANT)
    assert {o.store_id: o.skipped for o in later.outcomes} == {"bad": True, "good": False}
    connector.answers["bad"] = PollResult()
    again = service(repo, InMemoryRawStore(), pub, now=NOW + timedelta(minutes=2)).tick(TENANT)
    assert all(o.ok and not o.skipped for o in again.outcomes)
    assert repo.health["bad"].healthy and repo.health["bad"].next_poll_after is None
    assert repo.health["bad"].last_error == "mirakl answered HTTP 500"  # kept for the seller to see


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff_for(n) for n in (1, 2, 3, 7)] == [timedelta(minutes=m) for m in (1, 2, 4, 60)]
    assert backoff_for(30) == timedelta(hours=1)


def test_nothing_new_writes_nothing_but_health(connector: FakeConnector) -> None:
    repo = PollRepo(stores=[mirakl("m1")], cursors={("m1", "inbox"): "c"})
    raw, pub = InMemoryRawStore(), RecordingPublisher()
    service(repo, raw, pub).tick(TENANT)
    assert raw.objects == {} and pub.envelopes == [] and repo.cursors[("m1", "inbox")] == "c"
    assert repo.health["m1"].last_message_at is None


def test_130_marketplaces_are_polled_in_one_tick(connector: FakeConnector) -> None:
    stores = [mirakl(f"mp{i:03d}") for i in range(130)]
    for store in stores:
        connector.answers[store.store_id] = PollResult(
            messages=[make_inbound(channel=Channel.MIRAKL, store_id=store.store_id)], next_cursor="c", raw_pages=[b"{}"]
        )
    repo, pub = PollRepo(stores=stores), RecordingPublisher()
    report = service(repo, InMemoryRawStore(), pub).tick(TENANT)
    assert report.polled == 130 and report.failed == 0 and report.messages == 130
    assert {e.store_id for e in pub.envelopes} == {s.store_id for s in stores}


def test_a_rotated_refresh_token_is_stored_for_the_next_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Etsy replaces the refresh token on each refresh: the poller hands the connector a callback that
    writes the new one into the store's secret."""

    class RotatingCredentials(Credentials):
        def __init__(self) -> None:
            self.updates: list[tuple[str, dict]] = []

        def update_credentials(self, store: Store, changes: Mapping[str, str]) -> None:
            self.updates.append((store.store_id, dict(changes)))

    class EtsyLike(FakeConnector):
        rotates_refresh_token = True

        def client(self, store: Store, credentials: Mapping[str, str], *, on_refresh_token: Any = None) -> FakeHttp:
            on_refresh_token("rt-2")  # what Etsy's token answer would trigger
            return FakeHttp()

    fake = EtsyLike(channel="etsy")
    monkeypatch.setattr(polling, "poll_connector", lambda channel: fake)
    monkeypatch.setattr(polling, "is_polled", lambda channel: True)
    credentials = RotatingCredentials()
    repo = PollRepo(stores=[make_store(store_id="etsy-1", channel=Channel.ETSY)])
    PollService(repo, credentials, InMemoryRawStore(), RecordingPublisher(), clock=lambda: NOW).tick(TENANT)
    assert credentials.updates == [("etsy-1", {"refresh_token": "rt-2"})]

"""The reports' DynamoDB items on moto: daily counters, the open count, the breaches list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from helpdesk.adapters import report_store
from helpdesk.adapters.keys import breaches_pk, stats_pk
from helpdesk.adapters.report_store import ReportStore
from helpdesk.core.errors import InvalidCursor
from helpdesk.core.models import Intent, TicketStatus
from helpdesk.reports.aggregates import DailyStats, Increment, ReportQuery, build_report, new_breach, ticket_increments
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import fresh_table
from tests.unit.builders import make_ticket

REGION = "eu-west-1"
TABLE = "helpdesk-test"
D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)


pytestmark = pytest.mark.usefixtures("fake_aws_credentials")


@pytest.fixture
def dynamodb(stack: LocalStack) -> Iterator[Any]:
    yield from fresh_table(stack, TABLE)


@pytest.fixture
def store(dynamodb: Any) -> ReportStore:
    return ReportStore(dynamodb, TABLE)


def inc(day: date, value: str, dimension: str = "store", tenant: str = "t1", **counters: int) -> Increment:
    return Increment(tenant_id=tenant, day=day, dimension=dimension, value=value, counters=counters)


def test_apply_then_daily_sums_counters_across_batches(store: ReportStore, dynamodb: Any) -> None:
    first = [inc(day, value, created=1, frt_b1=1) for day in (D1, D2, D3) for value in ("s1", "s2", "s3")]
    second = [inc(D2, "s2", created=2, breaches=1), inc(D2, "s2", created=1), inc(D3, "s1", created=-1)]

    assert store.apply(first) == 9
    assert store.apply(second) == 2  # one write per key: the two s2 increments were merged

    daily = store.daily("t1", "store", D1, D3)
    assert [(d.day, d.value) for d in daily] == [(day, value) for day in (D1, D2, D3) for value in ("s1", "s2", "s3")]
    by_key = {(d.day, d.value): d.counters for d in daily}
    assert by_key[(D2, "s2")] == {"created": 4, "frt_b1": 1, "breaches": 1}
    assert by_key[(D3, "s1")] == {"created": 0, "frt_b1": 1}
    assert by_key[(D1, "s3")] == {"created": 1, "frt_b1": 1}
    assert [d.day for d in store.daily("t1", "store", D2, D2)] == [D2, D2, D2]  # the range is inclusive
    assert store.daily("t1", "team", D1, D3) == []
    assert store.daily("t2", "store", D1, D3) == []

    item = dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": stats_pk("t1", "store")}, "SK": {"S": "2024-03-02#s2"}})[
        "Item"
    ]
    assert item["PK"] == {"S": "TENANT#t1#STATS#store"}
    assert (item["day"], item["dimension"], item["value"], item["c_created"]) == (
        {"S": "2024-03-02"},
        {"S": "store"},
        {"S": "s2"},
        {"N": "4"},
    )


class SmallPages:
    """The client, with every Query cut to 2 items a page (DynamoDB cuts at 1 MB): paging is exercised."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.queries = 0

    def query(self, **params: Any) -> Any:
        self.queries += 1
        return self._client.query(**{**params, "Limit": min(params.get("Limit", 2), 2)})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_daily_reads_every_page(dynamodb: Any) -> None:
    paged = SmallPages(dynamodb)
    store = ReportStore(paged, TABLE)
    store.apply([inc(D1, f"agent-{n}", dimension="agent", created=1, frt_b0=n, frt_sum=n * 30) for n in range(7)])

    daily = store.daily("t1", "agent", D1, D1)

    assert [d.value for d in daily] == [f"agent-{n}" for n in range(7)]
    assert daily[6] == DailyStats(day=D1, value="agent-6", counters={"created": 1, "frt_b0": 6, "frt_sum": 180})
    assert paged.queries == 4


def test_breach_pages_fill_across_short_query_pages(dynamodb: Any) -> None:
    paged = SmallPages(dynamodb)
    store = ReportStore(paged, TABLE)
    for n in range(5):
        at = datetime(2024, 3, 1, 8, n, tzinfo=UTC)
        store.record_breach("t1", D1, make_ticket(ticket_id=f"T{n}", sla_breached_at=at))

    page = store.breaches("t1", D1, D1, limit=3)

    assert [b.ticket_id for b in page.breaches] == ["T4", "T3", "T2"] and page.next_cursor is not None
    assert [b.ticket_id for b in store.breaches("t1", D1, D1, limit=3, cursor=page.next_cursor).breaches] == [
        "T1",
        "T0",
    ]


def test_current_open_follows_the_all_dimension(store: ReportStore) -> None:
    assert store.current_open("t1") == 0

    store.apply(
        [
            inc(D1, "all", dimension="all", opened=5, closed=1),
            inc(D1, "s1", opened=5),
            inc(D1, "all", dimension="all", tenant="t2", opened=2),
        ]
    )
    store.apply([inc(D2, "all", dimension="all", closed=3)])

    assert store.current_open("t1") == 1
    assert store.current_open("t2") == 2


def test_ticket_changes_to_a_report_end_to_end(store: ReportStore) -> None:
    now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    created = make_ticket(created_at=now, updated_at=now, first_response_due_at=now + timedelta(hours=1))
    routed = created.model_copy(update={"intent": Intent.WISMO, "status": TicketStatus.OPEN})
    answered = routed.model_copy(
        update={
            "first_responded_at": now + timedelta(minutes=20),
            "status": TicketStatus.WAITING_ON_CUSTOMER,
            "updated_at": now + timedelta(minutes=20),
        }
    )
    store.apply(
        [
            *ticket_increments(None, created, "Europe/Rome"),
            *ticket_increments(created, routed, "Europe/Rome"),
            *ticket_increments(routed, answered, "Europe/Rome"),
        ]
    )

    rows = build_report(ReportQuery(start=D1, end=D1, group_by="intent"), store.daily("t1", "intent", D1, D1))

    assert [(r.value, r.created, r.first_responses, r.sla_compliance, r.wismo_share) for r in rows] == [
        ("unknown", 0, 0, None, None),
        ("wismo", 1, 1, 100.0, 100.0),
    ]
    assert rows[1].frt_median == 900 + 900 // 2  # the one response in (15 min, 30 min]: rank 0.5
    assert store.current_open("t1") == 0  # opened, then waiting on the customer


def test_breaches_newest_first_in_pages_within_the_days(store: ReportStore, dynamodb: Any) -> None:
    base = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    for n in range(7):
        breached_at = base + timedelta(hours=10 * n)  # 1st 08:00 ... 3rd 20:00 (UTC days)
        ticket = make_ticket(
            ticket_id=f"T{n}",
            status=TicketStatus.OPEN,
            sla_policy_id="fast",
            first_response_due_at=breached_at,
            sla_breached_at=breached_at,
            updated_at=breached_at,
            assignee_id="a1",
        )
        breach = new_breach(None, ticket)
        assert breach is not None
        store.record_breach("t1", breached_at.date(), ticket)
        store.record_breach("t1", breached_at.date(), breach)  # delivered twice: the same item

    first = store.breaches("t1", D1, D2, limit=3)
    second = store.breaches("t1", D1, D2, limit=3, cursor=first.next_cursor)

    assert [b.ticket_id for b in first.breaches] == ["T3", "T2", "T1"]  # T4 to T6 fall on the 3rd
    assert [b.ticket_id for b in second.breaches] == ["T0"]
    assert second.next_cursor is None
    whole = store.breaches("t1", D1, D2, limit=4)  # exactly a page: no cursor to an empty page
    assert [b.ticket_id for b in whole.breaches] == ["T3", "T2", "T1", "T0"] and whole.next_cursor is None
    line = first.breaches[0]
    assert (line.policy_id, line.assignee_id, line.due_at, line.breached_at, line.subject) == (
        "fast",
        "a1",
        base + timedelta(hours=30),
        base + timedelta(hours=30),
        "Where is my parcel?",
    )
    exact = store.breaches("t1", D3, D3, limit=2)
    assert [b.ticket_id for b in exact.breaches] == ["T6", "T5"] and exact.next_cursor is not None
    rest = store.breaches("t1", D3, D3, limit=2, cursor=exact.next_cursor)
    assert [b.ticket_id for b in rest.breaches] == ["T4"] and rest.next_cursor is None
    stored = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": breaches_pk("t1")}}
    )
    assert stored["Count"] == 7
    assert stored["Items"][0]["SK"] == {"S": "2024-03-01#2024-03-01T08:00:00.000000Z#T0"}


def test_breaches_refuse_a_foreign_cursor_and_a_bad_limit(store: ReportStore) -> None:
    ticket = make_ticket(sla_breached_at=datetime(2024, 3, 1, 8, 0, tzinfo=UTC))
    for tenant in ("t1", "t2"):
        store.record_breach(tenant, D1, ticket)
        store.record_breach(tenant, D1, ticket.model_copy(update={"ticket_id": "T2"}))
    foreign = store.breaches("t2", D1, D1, limit=1).next_cursor
    assert foreign is not None

    with pytest.raises(InvalidCursor):
        store.breaches("t1", D1, D1, limit=1, cursor=foreign)
    with pytest.raises(InvalidCursor):
        store.breaches("t1", D1, D1, cursor="not-a-cursor!")
    with pytest.raises(ValueError, match="limit"):
        store.breaches("t1", D1, D1, limit=0)


# --- a batch delivered again ---------------------------------------------------------------------


def batch(tenant: str = "t1", keys: int = 3) -> list[Increment]:
    found = [inc(D1, "all", dimension="all", tenant=tenant, created=keys, opened=2, closed=1)]
    found += [inc(D1, f"agent-{n:03d}", dimension="agent", tenant=tenant, created=1) for n in range(keys - 1)]
    return found


def agent_total(store: ReportStore, tenant: str = "t1") -> int:
    return sum(d.counters.get("created", 0) for d in store.daily(tenant, "agent", D1, D1))


def test_a_batch_applied_twice_counts_once(dynamodb: Any) -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    store = ReportStore(dynamodb, TABLE, clock=lambda: now)

    assert store.apply(batch() + batch("t2"), "b1") == 4 + 4  # 3 keys and the open count, per tenant
    assert store.apply(batch() + batch("t2"), "b1") == 0
    assert store.apply(batch(), "b2") == 4  # another batch counts

    assert store.daily("t1", "all", D1, D1)[0].counters == {"created": 6, "opened": 4, "closed": 2}
    assert (agent_total(store), agent_total(store, "t2")) == (4, 2)
    assert (store.current_open("t1"), store.current_open("t2")) == (2, 1)
    marker = dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": "TENANT#t1#STATSBATCH"}, "SK": {"S": "b1#0"}})
    assert marker["Item"]["expires_at"] == {"N": str(int((now + timedelta(days=2)).timestamp()))}


class FailingTransactions:
    """The client, with chosen transact_write_items calls failing before they reach the table."""

    def __init__(self, client: Any, fail: dict[int, str]) -> None:
        self._client = client
        self._fail = fail
        self.calls = 0

    def transact_write_items(self, **params: Any) -> Any:
        self.calls += 1
        code = self._fail.get(self.calls)
        if code is not None:
            reasons = [{"Code": "None"}] * (len(params["TransactItems"]) - 1) + [{"Code": code}]
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_batch_failing_half_way_and_delivered_again_counts_every_key_once(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert report_store._TRANSACTION_KEYS == 98  # a transaction takes 100 items: + the open count + the marker
    monkeypatch.setattr(report_store, "_TRANSACTION_KEYS", 4)  # small chunks keep the test fast
    big = batch(keys=7)  # 6 agents and "all": chunks of 4 and 3
    failing = FailingTransactions(dynamodb, {2: "ValidationError"})

    with pytest.raises(ClientError, match="TransactionCanceledException"):
        ReportStore(failing, TABLE).apply(big, "b1")
    # keys sort by day, dimension, value: the first chunk (4 agents) made it, the second (2 + "all") did not
    assert agent_total(ReportStore(dynamodb, TABLE)) == 4
    assert ReportStore(dynamodb, TABLE).current_open("t1") == 0

    ReportStore(dynamodb, TABLE).apply(big, "b1")  # the stream delivers the batch again

    assert agent_total(ReportStore(dynamodb, TABLE)) == 6
    assert ReportStore(dynamodb, TABLE).current_open("t1") == 1


def test_a_conflicting_transaction_is_tried_again(dynamodb: Any) -> None:
    pauses: list[float] = []
    flaky = FailingTransactions(dynamodb, {1: "TransactionConflict", 2: "TransactionConflict"})

    ReportStore(flaky, TABLE, sleep=pauses.append).apply(batch(), "b1")

    assert pauses == [0.05, 0.1]
    assert agent_total(ReportStore(dynamodb, TABLE)) == 2
    always = FailingTransactions(dynamodb, dict.fromkeys(range(1, 10), "TransactionConflict"))
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        ReportStore(always, TABLE, sleep=pauses.append).apply(batch(), "b2")
    assert always.calls == 4

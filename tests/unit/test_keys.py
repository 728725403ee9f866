"""adapters/keys.py: tenant-first partition keys and sortable timestamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpdesk.adapters import keys

TENANT = "acme"
WHEN = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

PARTITION_KEYS: list[tuple[str, Callable[[], str]]] = [
    ("tenant_pk", lambda: keys.tenant_pk(TENANT)),
    ("ticket_pk", lambda: keys.ticket_pk(TENANT, "T1")),
    ("channel_message_pk", lambda: keys.channel_message_pk(TENANT, "s1", "m1")),
    ("thread_pk", lambda: keys.thread_pk(TENANT, "s1", "th1")),
    ("order_pk", lambda: keys.order_pk(TENANT, "s1", "727")),
    ("order_lookup_pk", lambda: keys.order_lookup_pk(TENANT, "s1", "727")),
    ("email_lookup_pk", lambda: keys.email_lookup_pk(TENANT, "a@b.c")),
    ("tenant_queue_pk", lambda: keys.tenant_queue_pk(TENANT)),
    ("team_queue_pk", lambda: keys.team_queue_pk(TENANT, "billing")),
    ("agent_queue_pk", lambda: keys.agent_queue_pk(TENANT, "agent-7")),
    ("snoozed_pk", lambda: keys.snoozed_pk(TENANT)),
    ("outbox_pk", lambda: keys.outbox_pk(TENANT)),
    ("status_pk", lambda: keys.status_pk(TENANT, "snoozed")),
    ("notifications_pk", lambda: keys.notifications_pk(TENANT, "agent-7")),
    ("stats_pk", lambda: keys.stats_pk(TENANT, "store")),
    ("breaches_pk", lambda: keys.breaches_pk(TENANT)),
    ("batch_marker_pk", lambda: keys.batch_marker_pk(TENANT)),
    ("translation_pk", lambda: keys.translation_pk(TENANT, "0f3a")),
]


# The one documented exception (docs/data-model.md): a pointer from a channel account to a tenant's
# store, for pushes that do not name the tenant. It holds ids only, never tenant data.
ROUTING_KEYS = {"channel_route_pk"}


def test_every_partition_key_builder_is_covered() -> None:
    builders = {name for name in dir(keys) if name.endswith("_pk") and callable(getattr(keys, name))}
    assert builders == {name for name, _ in PARTITION_KEYS} | ROUTING_KEYS


def test_the_routing_key_names_only_a_channel_account() -> None:
    assert keys.channel_route_pk("amazon", "A3TH9S8BH6GOGM") == "ROUTE#amazon#A3TH9S8BH6GOGM"


@pytest.mark.parametrize(("name", "build"), PARTITION_KEYS, ids=[n for n, _ in PARTITION_KEYS])
def test_every_partition_key_starts_with_the_tenant(name: str, build: Callable[[], str]) -> None:
    key = build()
    assert key == f"TENANT#{TENANT}" or key.startswith(f"TENANT#{TENANT}#")


def test_partition_keys_are_distinct_per_entity() -> None:
    built = [build() for _, build in PARTITION_KEYS]
    assert len(set(built)) == len(built)


def test_partition_keys_carry_their_parts() -> None:
    assert keys.ticket_pk("acme", "T1") == "TENANT#acme#TICKET#T1"
    assert keys.channel_message_pk("acme", "s1", "m1") == "TENANT#acme#CHMSG#s1#m1"
    assert keys.order_lookup_pk("acme", "s1", "727") == "TENANT#acme#ORDERREF#s1#727"
    assert keys.email_lookup_pk("acme", "John.Doe@Example.com") == "TENANT#acme#EMAIL#john.doe@example.com"


def test_sort_keys() -> None:
    assert keys.store_sk("s1") == "STORE#s1"
    assert keys.sla_policy_sk("p") == "SLA#p"
    assert keys.cursor_sk("s1", "orders") == "CURSOR#s1#orders"
    assert keys.message_sk(WHEN, "M1") == "MSG#2024-03-01T12:00:00.000000Z#M1"
    assert keys.queue_sk(WHEN, "T1") == "2024-03-01T12:00:00.000000Z#T1"


def test_sortable_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        keys.sortable(datetime(2024, 3, 1, 12, 0))
    with pytest.raises(ValueError):
        keys.queue_sk(datetime(2024, 3, 1, 12, 0), "T1")


def test_sortable_is_fixed_width_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert keys.sortable(datetime(2024, 3, 1, 14, 0, tzinfo=plus_two)) == "2024-03-01T12:00:00.000000Z"
    assert len({len(keys.sortable(WHEN + timedelta(microseconds=n))) for n in (0, 1, 999_999)}) == 1


def test_lexical_order_is_time_order() -> None:
    minus_five = timezone(timedelta(hours=-5))
    moments = [
        datetime(2009, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2010, 1, 1, tzinfo=UTC),
        WHEN - timedelta(microseconds=1),
        WHEN,
        WHEN + timedelta(microseconds=1),
        (WHEN + timedelta(hours=1)).astimezone(minus_five),  # earlier wall clock, later instant
        WHEN + timedelta(hours=2),
    ]
    texts = [keys.sortable(m) for m in moments]
    assert sorted(texts) == texts
    assert sorted(keys.queue_sk(m, "T") for m in reversed(moments)) == [keys.queue_sk(m, "T") for m in moments]

"""DynamoDB items of the reports (``helpdesk.reports.aggregates``): daily counters, the open count, the breaches list.

* daily counters: PK ``TENANT#<t>#STATS#<dimension>``, SK ``<yyyy-mm-dd>#<value>`` (the tenant's day),
  attributes ``day``, ``dimension``, ``value`` and one number attribute per counter, ``c_<name>``.
  The counters are top-level attributes, not a map: ``ADD`` creates a missing top-level number, but
  an ``ADD`` into a map the item does not have yet fails, and the first write of a day must work
  without a read. One ``UpdateItem`` per item per stream batch (``reports.merge``);
* the open count: PK ``TENANT#<t>``, SK ``STATS#OPEN``, ``open_count`` (opened − closed of dimension
  "all", added in the same batch);
* breaches: PK ``TENANT#<t>#BREACHES``, SK ``<yyyy-mm-dd>#<breached at, fixed-width UTC>#<ticket>``.
  The day (the tenant's) leads so a range of the tenant's days is a key range; the tenant's day never
  goes back as time goes on, so the order is also time order. Written with a put: a stream record
  delivered twice writes the same item.

A report reads ``daily`` for one dimension: one item per (day, value), whatever the ticket volume.

**A batch delivered twice** (the stream retries a batch whose function failed, perhaps after part of
it was written) must not count twice, and ADD is not idempotent. With a ``batch_id`` (the same for a
redelivered batch), ``apply`` writes each tenant's keys in ``TransactWriteItems`` of up to 98 keys,
plus that tenant's open count and a marker item, PK ``TENANT#<t>#STATSBATCH``, SK
``<batch id>#<chunk>``, put only if absent (TTL ``expires_at`` 2 days: a stream keeps records 24 h).
A chunk is all or nothing, and a chunk already written is cancelled by its marker and skipped. The
chunks are cut from the keys in sorted order, so a redelivered batch cuts the same chunks. A
transaction costs twice the writes of plain updates; the price of counting exactly once. A chunk
that collides with another batch's transaction on a hot item (today's "all") is tried again after
a short pause, up to ``_TRANSACTION_ATTEMPTS`` times, then the error goes up and the stream retries.
Without a ``batch_id`` it is one plain ``UpdateItem`` per key (at least once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters.dynamodb.base import _decode_cursor, _encode_cursor, from_item, to_item
from helpdesk.adapters.keys import (
    OPEN_SK,
    batch_marker_pk,
    breach_sk,
    breaches_pk,
    stats_pk,
    stats_sk,
    tenant_pk,
)
from helpdesk.core.errors import InvalidCursor
from helpdesk.core.models import Ticket
from helpdesk.reports.aggregates import Breach, BreachPage, DailyStats, Increment, breach_of, merge

COUNTER_PREFIX = "c_"
MAX_BREACH_PAGE = 200
BATCH_MARKER_TTL = timedelta(days=2)
_TRANSACTION_ITEMS = 100  # TransactWriteItems' limit: keys + the open count + the marker
_TRANSACTION_KEYS = _TRANSACTION_ITEMS - 2
_TRANSACTION_ATTEMPTS = 4
_RANGE_END = "~"  # sorts after "#" and every character of a value: "<end day>~" closes a day range


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class ReportStore:
    def __init__(
        self,
        client: Any,
        table_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self._table = table_name
        self._clock = clock
        self._sleep = sleep

    def apply(self, increments: Iterable[Increment], batch_id: str | None = None) -> int:
        """Add a batch's increments, each (tenant, day, dimension, value) written once, and each
        tenant's open count (opened − closed of dimension "all"). With ``batch_id``: exactly once per
        batch (see the module docstring). The number of counter and open-count items written."""
        merged = merge(increments)
        if batch_id is None:
            for increment in merged:
                self._db.update_item(**self._counters_update(increment))
            opens = [self._open_update(tenant, net) for tenant, net in _open_changes(merged).items()]
            for update in opens:
                self._db.update_item(**update)
            return len(merged) + len(opens)
        by_tenant: dict[str, list[Increment]] = {}
        for increment in sorted(merged, key=lambda i: i.key):
            by_tenant.setdefault(increment.tenant_id, []).append(increment)
        written = 0
        for tenant_id, tenant_increments in by_tenant.items():
            for chunk_no, start in enumerate(range(0, len(tenant_increments), _TRANSACTION_KEYS)):
                chunk = tenant_increments[start : start + _TRANSACTION_KEYS]
                updates = [self._counters_update(i) for i in chunk]
                updates += [self._open_update(t, net) for t, net in _open_changes(chunk).items()]
                if self._transact(updates, self._marker(tenant_id, batch_id, chunk_no)):
                    written += len(updates)
        return written

    def _transact(self, updates: list[dict[str, Any]], marker: dict[str, Any]) -> bool:
        """One chunk, all or nothing. False: its marker exists (written by an earlier delivery)."""
        items = [{"Update": update} for update in updates] + [{"Put": marker}]
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self._db.transact_write_items(TransactItems=items)
                return True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
                if codes and codes[-1] == "ConditionalCheckFailed":
                    return False  # the marker is there: this chunk was applied before
                if "TransactionConflict" not in codes or attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise
                self._sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _marker(self, tenant_id: str, batch_id: str, chunk_no: int) -> dict[str, Any]:
        expires = int((self._clock() + BATCH_MARKER_TTL).timestamp())
        return {
            "TableName": self._table,
            "Item": {
                "PK": _s(batch_marker_pk(tenant_id)),
                "SK": _s(f"{batch_id}#{chunk_no}"),
                "entity": _s("stats_batch"),
                "expires_at": _n(expires),
            },
            "ConditionExpression": "attribute_not_exists(PK)",
        }

    def _open_update(self, tenant_id: str, net: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": {"PK": _s(tenant_pk(tenant_id)), "SK": _s(OPEN_SK)},
            "UpdateExpression": "SET #entity = :entity ADD #open :net",
            "ExpressionAttributeNames": {"#entity": "entity", "#open": "open_count"},
            "ExpressionAttributeValues": {":entity": _s("open_count"), ":net": _n(net)},
        }

    def _counters_update(self, increment: Increment) -> dict[str, Any]:
        names = {"#entity": "entity", "#day": "day", "#dimension": "dimension", "#value": "value"}
        values: dict[str, Any] = {
            ":entity": _s("daily_stats"),
            ":day": _s(increment.day.isoformat()),
            ":dimension": _s(increment.dimension),
            ":value": _s(increment.value),
        }
        adds = []
        for position, (name, amount) in enumerate(sorted(increment.counters.items())):
            names[f"#c{position}"] = COUNTER_PREFIX + name
            values[f":c{position}"] = _n(amount)
            adds.append(f"#c{position} :c{position}")
        expression = "SET #entity = :entity, #day = :day, #dimension = :dimension, #value = :value"
        if adds:
            expression += " ADD " + ", ".join(adds)
        return {
            "TableName": self._table,
            "Key": {
                "PK": _s(stats_pk(increment.tenant_id, increment.dimension)),
                "SK": _s(stats_sk(increment.day, increment.value)),
            },
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def daily(self, tenant_id: str, dimension: str, start: date, end: date) -> list[DailyStats]:
        """Every item of one dimension from ``start`` to ``end`` (inclusive), by day then value."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#pk": "PK", "#sk": "SK"},
            "ExpressionAttributeValues": {
                ":pk": _s(stats_pk(tenant_id, dimension)),
                ":low": _s(start.isoformat()),
                ":high": _s(end.isoformat() + _RANGE_END),
            },
        }
        found: list[DailyStats] = []
        while True:
            answer = self._db.query(**params)
            found.extend(_daily(item) for item in answer.get("Items", []))
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return found
            params["ExclusiveStartKey"] = last

    def current_open(self, tenant_id: str) -> int:
        """Tickets in the queue states now (as the aggregates counted them)."""
        item = self._db.get_item(
            TableName=self._table, Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(OPEN_SK)}, ConsistentRead=True
        ).get("Item")
        return int(item["open_count"]["N"]) if item and "open_count" in item else 0

    def record_breach(self, tenant_id: str, day: date, ticket: Ticket | Breach) -> None:
        """Add a breach to the list, under the tenant's ``day`` of it (see ``reports.new_breach``)."""
        breach = ticket if isinstance(ticket, Breach) else breach_of(ticket)
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                breach, PK=breaches_pk(tenant_id), SK=breach_sk(day, breach), entity="breach", day=day.isoformat()
            ),
        )

    def breaches(
        self, tenant_id: str, start: date, end: date, limit: int = 50, cursor: str | None = None
    ) -> BreachPage:
        """The breaches of the tenant's days ``start`` to ``end``, newest first, ``limit`` per page."""
        if not 1 <= limit <= MAX_BREACH_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_BREACH_PAGE}")
        pk = breaches_pk(tenant_id)
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#pk": "PK", "#sk": "SK"},
            "ExpressionAttributeValues": {
                ":pk": _s(pk),
                ":low": _s(start.isoformat()),
                ":high": _s(end.isoformat() + _RANGE_END),
            },
            "ScanIndexForward": False,
        }
        if cursor:
            params["ExclusiveStartKey"] = _decode_cursor(cursor, "PK", pk)
        items: list[dict[str, Any]] = []
        while len(items) <= limit:  # one more than the page: is there a next page?
            params["Limit"] = limit + 1 - len(items)
            try:
                answer = self._db.query(**params)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ValidationException" and "ExclusiveStartKey" in params:
                    raise InvalidCursor("cursor does not fit this range") from None
                raise
            items.extend(answer.get("Items", []))
            last = answer.get("LastEvaluatedKey")
            if last is None:
                break
            params["ExclusiveStartKey"] = last
        page = items[:limit]
        more = len(items) > limit
        return BreachPage(
            breaches=[from_item(Breach, item) for item in page],
            next_cursor=_encode_cursor({"PK": page[-1]["PK"], "SK": page[-1]["SK"]}) if more else None,
        )


def _open_changes(increments: Iterable[Increment]) -> dict[str, int]:
    """Per tenant, the open count's change: opened − closed of dimension "all" (0 left out)."""
    changes: dict[str, int] = {}
    for increment in increments:
        if increment.dimension == "all":
            net = increment.counters.get("opened", 0) - increment.counters.get("closed", 0)
            changes[increment.tenant_id] = changes.get(increment.tenant_id, 0) + net
    return {tenant: net for tenant, net in changes.items() if net}


def _daily(item: dict[str, Any]) -> DailyStats:
    counters = {
        name[len(COUNTER_PREFIX) :]: int(value["N"])
        for name, value in item.items()
        if name.startswith(COUNTER_PREFIX) and "N" in value
    }
    return DailyStats(day=date.fromisoformat(item["day"]["S"]), value=item["value"]["S"], counters=counters)

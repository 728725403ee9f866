"""DynamoDB access for the inbox and collaboration (docs/data-model.md, patterns 40-49): filtered queue
pages and counts, saved views, presence, notes and notifications. Small classes on the one table.

Filtered reads: DynamoDB applies ``Limit`` before the ``FilterExpression``, so one Query page may hold
fewer matches than asked for (none at all). ``_filtered_page`` keeps reading until the page is full,
the partition ends or a read budget is spent, and the cursor it returns resumes right after the last
item returned (or at DynamoDB's last evaluated key when the page ended short). A cursor only opens
the partition it came from (``invalid_cursor`` otherwise).

DynamoDB refuses an ``ExclusiveStartKey`` outside the key condition. The near-breach range ("deadline
ahead": ``sk >= now``) moves with the clock, so the ticket a cursor names may have passed its deadline
between two pages: resuming, the range starts at the cursor's sort key when that is earlier, and the
tickets read below ``now`` (their deadline passed: not near breach any more) are dropped.

Counts read at most their budget of items (``Limit``), so a capped count costs what the budget says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import _decode_cursor, _encode_cursor, batch_write, from_item, to_item
from helpdesk.core.errors import InvalidCursor
from helpdesk.core.models import Message, QueuePage, Ticket
from helpdesk.tickets.collaboration import NOTIFICATION_TTL, Notification, NotificationPage, PresenceEntry
from helpdesk.tickets.inbox import QueueFilter, QueuePlan, SavedView, SlaFilter

READ_BUDGET = 1000  # items one page request may read through filters before returning short
READ_AHEAD = (50, 250)  # items per Query while filtering: at least, at most (4 x the page size between)

# index → (index name, partition attribute, sort attribute, partition key builder)
_INDEXES: dict[str, tuple[str, str, str, Callable[[str, str | None], str]]] = {
    "tenant": (keys.TENANT_QUEUE, "queue_pk", "queue_sk", lambda t, _p: keys.tenant_queue_pk(t)),
    "team": (keys.TEAM_QUEUE, "team_queue_pk", "team_queue_sk", lambda t, p: keys.team_queue_pk(t, p or "")),
    "agent": (keys.AGENT_QUEUE, "agent_queue_pk", "agent_queue_sk", lambda t, p: keys.agent_queue_pk(t, p or "")),
    "status": (keys.STATUS_INDEX, "status_pk", "status_sk", lambda t, p: keys.status_pk(t, p or "")),
}
# Ticket attributes the equality filters compare (pydantic's JSON of the field is what is stored).
_EQUALITY = ("store_id", "channel", "intent", "status", "team_id", "language")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _epoch(moment: datetime) -> dict[str, str]:
    return {"N": str(int(moment.timestamp()))}


class _Expression:
    """Builds a FilterExpression with placeholder names and values."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.terms: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def add(self, term: str) -> None:
        self.terms.append(term)


def queue_filter_expression(residual: QueueFilter, now: datetime, expression: _Expression) -> None:
    """The DynamoDB form of ``QueueFilter.matches`` for what the partition does not guarantee."""
    for field in _EQUALITY:
        wanted = getattr(residual, field)
        if wanted is not None:
            expression.add(f"{expression.name(field)} = {expression.value(_s(str(wanted)))}")
    if residual.tag is not None:
        expression.add(f"contains({expression.name('tags')}, {expression.value(_s(residual.tag))})")
    if residual.assignee_id == "none":
        expression.add(f"attribute_not_exists({expression.name('assignee_id')})")
    elif residual.assignee_id is not None:
        expression.add(f"{expression.name('assignee_id')} = {expression.value(_s(residual.assignee_id))}")
    if residual.sla == SlaFilter.BREACHED:  # outside the queues: a breach recorded before it left
        expression.add(f"attribute_exists({expression.name('sla_breached_at')})")
    elif residual.sla == SlaFilter.NEAR_BREACH:  # in a queue, deadline ahead (key range): warning point passed
        expression.add(
            f"attribute_not_exists({expression.name('sla_breached_at')}) AND "
            f"(attribute_exists({expression.name('sla_warned_at')}) OR "
            f"{expression.name('sla_warn_key')} <= {expression.value(_s(keys.sortable(now)))})"
        )


def _filtered_page(
    db: Any,
    params: dict[str, Any],
    key_attributes: Sequence[str],
    limit: int,
    filtered: bool,
    skip: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` matching items and the key to resume after (None: the partition is done).
    ``skip``: items read but not matching what the FilterExpression cannot say (key attributes)."""
    # Unfiltered, a page reads exactly what it returns; filtered, it reads ahead in bigger steps.
    low, high = READ_AHEAD
    params = {**params, "Limit": limit if not filtered else min(max(4 * limit, low), high)}
    budget = READ_BUDGET
    found: list[dict[str, Any]] = []
    read = 0
    while True:
        try:
            answer = db.query(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException" and "ExclusiveStartKey" in params:
                raise InvalidCursor("cursor does not fit this query") from None
            raise
        items = answer.get("Items", [])
        last = answer.get("LastEvaluatedKey")
        read += answer.get("ScannedCount", len(items))
        for position, item in enumerate(items):
            if skip is not None and skip(item):
                continue
            found.append(item)
            if len(found) == limit:
                more = position < len(items) - 1 or last is not None
                return found, ({a: item[a] for a in key_attributes} if more else None)
        if last is None or read >= budget:
            return found, last
        params["ExclusiveStartKey"] = last


class QueueStore:
    """Queue pages and counts on the SLA-sorted queue indexes and the StatusIndex."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def queue_page(self, tenant_id: str, plan: QueuePlan, limit: int, cursor: str | None, now: datetime) -> QueuePage:
        _, pk_attr, sk_attr, build = _INDEXES[plan.index]
        start = _decode_cursor(cursor, pk_attr, build(tenant_id, plan.partition)) if cursor else None
        params, pk_attr, _, sk_attr, filtered = self._query(tenant_id, plan, now, start)
        skip: Callable[[dict[str, Any]], bool] | None = None
        if start is not None:
            params["ExclusiveStartKey"] = start
            if plan.due == "ahead":
                ahead = keys.sortable(now)

                def passed(item: dict[str, Any]) -> bool:  # its deadline passed since the last page
                    return item[sk_attr]["S"] < ahead

                skip = passed
        items, last = _filtered_page(self._db, params, ("PK", "SK", pk_attr, sk_attr), limit, filtered, skip)
        return QueuePage(
            tickets=[from_item(Ticket, i) for i in items], next_cursor=_encode_cursor(last) if last else None
        )

    def count_queue(self, tenant_id: str, plan: QueuePlan, now: datetime, budget: int) -> tuple[int, bool]:
        """Matching tickets, reading at most ``budget`` items (``Limit``); capped when more are left."""
        params, *_ = self._query(tenant_id, plan, now)
        params["Select"] = "COUNT"
        total = read = 0
        while True:
            params["Limit"] = max(1, budget - read)
            answer = self._db.query(**params)
            total += answer.get("Count", 0)
            read += answer.get("ScannedCount", 0)
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return total, False
            if read >= budget:
                return total, True
            params["ExclusiveStartKey"] = last

    def _query(
        self,
        tenant_id: str,
        plan: QueuePlan,
        now: datetime,
        start: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str, str, str, bool]:
        index, pk_attr, sk_attr, build = _INDEXES[plan.index]
        pk_value = build(tenant_id, plan.partition)
        expression = _Expression()
        key = f"{expression.name(pk_attr)} = {expression.value(_s(pk_value))}"
        if plan.due == "passed":
            key += f" AND {expression.name(sk_attr)} < {expression.value(_s(keys.sortable(now)))}"
        elif plan.due == "ahead":
            lower = keys.sortable(now)
            resume = (start or {}).get(sk_attr)
            if isinstance(resume, dict) and isinstance(resume.get("S"), str) and resume["S"] < lower:
                lower = resume["S"]  # the cursor's ticket passed its deadline: the start key must stay in range
            key += f" AND {expression.name(sk_attr)} >= {expression.value(_s(lower))}"
        key_names = len(expression.names)
        queue_filter_expression(plan.residual, now, expression)
        filtered = len(expression.names) > key_names
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": key,
            "ExpressionAttributeNames": expression.names,
            "ExpressionAttributeValues": expression.values,
            "ScanIndexForward": not plan.newest_first,
        }
        if expression.terms:
            params["FilterExpression"] = " AND ".join(f"({t})" for t in expression.terms)
        return params, pk_attr, pk_value, sk_attr, filtered


class ViewStore:
    """Saved views in the tenant partition: ``VIEW#AGENT#<owner>#<view>`` or ``VIEW#SHARED#<view>``."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def get_view(self, tenant_id: str, owner_id: str, view_id: str, shared: bool) -> SavedView | None:
        answer = self._db.get_item(TableName=self._table, Key=self._key(tenant_id, owner_id, view_id, shared))
        item = answer.get("Item")
        return from_item(SavedView, item) if item else None

    def list_views(self, tenant_id: str, owner_id: str) -> list[SavedView]:
        items: list[dict[str, Any]] = []
        for prefix in (keys.private_views_prefix(owner_id), keys.SHARED_VIEWS_PREFIX):
            params: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
                "ExpressionAttributeValues": {":pk": _s(keys.tenant_pk(tenant_id)), ":p": _s(prefix)},
            }
            while True:
                answer = self._db.query(**params)
                items.extend(answer.get("Items", []))
                if "LastEvaluatedKey" not in answer:
                    break
                params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return [from_item(SavedView, i) for i in items]

    def put_view(self, view: SavedView, previous: SavedView | None = None) -> None:
        item = to_item(view, **self._plain_key(view.tenant_id, view.owner_id, view.view_id, view.shared), entity="view")
        if previous is None or previous.shared == view.shared:
            self._db.put_item(TableName=self._table, Item=item)
            return
        old = self._key(previous.tenant_id, previous.owner_id, previous.view_id, previous.shared)
        self._db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table, "Item": item}},
                {"Delete": {"TableName": self._table, "Key": old}},
            ]
        )

    def delete_view(self, view: SavedView) -> None:
        self._db.delete_item(
            TableName=self._table, Key=self._key(view.tenant_id, view.owner_id, view.view_id, view.shared)
        )

    @staticmethod
    def _plain_key(tenant_id: str, owner_id: str, view_id: str, shared: bool) -> dict[str, str]:
        return {"PK": keys.tenant_pk(tenant_id), "SK": keys.view_sk(owner_id, view_id, shared)}

    def _key(self, tenant_id: str, owner_id: str, view_id: str, shared: bool) -> dict[str, Any]:
        return {k: _s(v) for k, v in self._plain_key(tenant_id, owner_id, view_id, shared).items()}


class PresenceStore:
    """Who is on a ticket: ``PRESENCE#<agent>`` in the ticket's partition, TTL ``expires_at``."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def touch_presence(
        self,
        tenant_id: str,
        ticket_id: str,
        agent_id: str,
        seen_at: datetime,
        expires_at: datetime,
        typing: bool | None = None,
    ) -> None:
        update = "SET agent_id = :a, seen_at = :seen, expires_at = :exp, entity = :e"
        values: dict[str, Any] = {
            ":a": _s(agent_id),
            ":seen": _s(seen_at.astimezone(UTC).isoformat()),
            ":exp": _epoch(expires_at),
            ":e": _s("presence"),
        }
        if typing is True:
            update += ", typing_until = :exp"
        elif typing is False:
            update += " REMOVE typing_until"
        self._db.update_item(
            TableName=self._table,
            Key={"PK": _s(keys.ticket_pk(tenant_id, ticket_id)), "SK": _s(keys.presence_sk(agent_id))},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )

    def list_presence(self, tenant_id: str, ticket_id: str) -> list[PresenceEntry]:
        answer = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": _s(keys.ticket_pk(tenant_id, ticket_id)), ":p": _s(keys.PRESENCE_PREFIX)},
            ConsistentRead=True,
        )
        return [self._entry(i) for i in answer.get("Items", [])]

    @staticmethod
    def _entry(item: dict[str, Any]) -> PresenceEntry:
        typing = item.get("typing_until")
        return PresenceEntry(
            agent_id=item["agent_id"]["S"],
            seen_at=datetime.fromisoformat(item["seen_at"]["S"]),
            expires_at=datetime.fromtimestamp(int(item["expires_at"]["N"]), UTC),
            typing_until=datetime.fromtimestamp(int(typing["N"]), UTC) if typing else None,
        )


class NoteStore:
    """A note alone on a ticket's timeline (a note by the assignee goes through ``update_ticket``)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def add_note(self, note: Message) -> None:
        item = to_item(
            note,
            PK=keys.ticket_pk(note.tenant_id, note.ticket_id),
            SK=keys.message_sk(note.created_at, note.message_id),
            entity="message",
        )
        self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(PK)")


class NotificationStore:
    """An agent's notifications: ``TENANT#<t>#AGENT#<agent>#NOTIFY`` / ``NOTIFY#<id>``, TTL 90 days."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def put_notifications(self, notifications: Sequence[Notification]) -> None:
        batch_write(self._db, self._table, [{"PutRequest": {"Item": self._item(n)}} for n in notifications])

    def list_notifications(
        self, tenant_id: str, agent_id: str, unread_only: bool, limit: int, cursor: str | None, now: datetime
    ) -> NotificationPage:
        pk = keys.notifications_pk(tenant_id, agent_id)
        # Expired records may linger until TTL deletes them: never shown.
        condition = "expires_at > :now" + (" AND attribute_not_exists(read_at)" if unread_only else "")
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
            "FilterExpression": condition,
            "ScanIndexForward": False,
            "ExpressionAttributeValues": {":pk": _s(pk), ":p": _s(keys.NOTIFICATION_PREFIX), ":now": _epoch(now)},
        }
        if cursor:
            params["ExclusiveStartKey"] = _decode_cursor(cursor, "PK", pk)
        items, last = _filtered_page(self._db, params, ("PK", "SK"), limit, filtered=True)
        return NotificationPage(
            notifications=[from_item(Notification, i) for i in items],
            next_cursor=_encode_cursor(last) if last else None,
        )

    def mark_read(self, tenant_id: str, agent_id: str, notification_id: str, at: datetime) -> Notification | None:
        try:
            answer = self._db.update_item(
                TableName=self._table,
                Key={
                    "PK": _s(keys.notifications_pk(tenant_id, agent_id)),
                    "SK": _s(keys.notification_sk(notification_id)),
                },
                UpdateExpression="SET read_at = if_not_exists(read_at, :at)",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":at": _s(at.astimezone(UTC).isoformat())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(Notification, answer["Attributes"])

    @staticmethod
    def _item(notification: Notification) -> dict[str, Any]:
        expires = int((notification.created_at + NOTIFICATION_TTL).timestamp())
        return to_item(
            notification,
            PK=keys.notifications_pk(notification.tenant_id, notification.agent_id),
            SK=keys.notification_sk(notification.notification_id),
            entity="notification",
            expires_at=expires,
        )

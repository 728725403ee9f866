"""Tickets and their messages: threading lookups, conditional writes with their markers and pointers,
the ticket view and the queues, reply delivery records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import (
    _MAX_LOOKUP,
    NO_DEADLINE,
    TableAccess,
    _decode_cursor,
    _encode_cursor,
    _s,
    from_item,
    to_item,
)
from helpdesk.core.errors import Conflict
from helpdesk.core.models import (
    DeliveryStatus,
    Message,
    MessageDirection,
    QueuePage,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.replies.outbox import CHECK_AFTER
from helpdesk.tickets.ports import QueueScope


class TicketRecords(TableAccess):
    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None:
        """Store the ticket's new state if nobody changed it since ``previous`` was read (Conflict),
        with the timeline events that explain the change, in one transaction."""
        self._write_ticket(
            previous,
            updated,
            lambda: [
                *(self._put_new(self._message_item(event)) for event in events),
                *({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(updated, previous)),
            ],
            "the ticket changed meanwhile; re-read and retry",
        )

    def record_delivery(
        self, previous: Ticket, updated: Ticket, reply: Message, events: Sequence[Message] = ()
    ) -> None:
        """A reply's delivery state (queued → sent / failed) with the ticket's new state and the
        events explaining it, in one transaction; the reply item must exist (it was stored when the
        agent wrote it) and a reply already sent is never set back (Conflict)."""
        self._write_ticket(
            previous,
            updated,
            lambda: [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._message_item(reply),
                        "ConditionExpression": "attribute_exists(PK) AND delivery_status <> :sent",
                        "ExpressionAttributeValues": {":sent": _s("sent")},
                    }
                },
                *(self._put_new(self._message_item(event)) for event in events),
            ],
            "the ticket or the reply changed meanwhile; re-read and retry",
        )

    def claim_delivery(self, reply: Message) -> bool:
        """``queued`` → ``sending`` on the stored reply, only if it is still queued (one dispatch
        sends it, whatever the queue redelivers)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={
                    "PK": _s(keys.ticket_pk(reply.tenant_id, reply.ticket_id)),
                    "SK": _s(keys.message_sk(reply.created_at, reply.message_id)),
                },
                UpdateExpression="SET delivery_status = :sending REMOVE outbox_pk, outbox_sk",
                ConditionExpression="delivery_status = :queued",
                ExpressionAttributeValues={":sending": _s("sending"), ":queued": _s("queued")},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _write_ticket(
        self, previous: Ticket, updated: Ticket, more: Callable[[], list[dict[str, Any]]], conflict: str
    ) -> None:
        """The ticket written whole if its version is still the one read (bumped by one), with
        ``more`` items in the same transaction; a cancelled transaction is a Conflict."""
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        updated.version = previous.version + 1
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._ticket_item(updated),
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(previous.version)}},
                }
            },
            *more(),
        ]
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            updated.version = previous.version
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(conflict) from None
            raise

    def find_message(self, tenant_id: str, store_id: str, channel_message_id: str) -> tuple[str, str] | None:
        item = self._get(keys.channel_message_pk(tenant_id, store_id, channel_message_id), "CHMSG")
        return (item["ticket_id"]["S"], item["message_id"]["S"]) if item else None

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        item = self._get(keys.ticket_pk(tenant_id, ticket_id), keys.TICKET_SK, consistent=True)
        return from_item(Ticket, item) if item else None

    def find_ticket_by_thread(self, tenant_id: str, store_id: str, thread_id: str) -> Ticket | None:
        pointer = self._get(keys.thread_pk(tenant_id, store_id, thread_id), "THREAD")
        return self.get_ticket(tenant_id, pointer["ticket_id"]["S"]) if pointer else None

    def find_tickets_by_order(self, tenant_id: str, store_id: str, order_ref: str) -> list[Ticket]:
        return self._tickets_by_lookup(tenant_id, keys.order_lookup_pk(tenant_id, store_id, order_ref))

    def find_tickets_by_email(self, tenant_id: str, email: str) -> list[Ticket]:
        return self._tickets_by_lookup(tenant_id, keys.email_lookup_pk(tenant_id, email))

    def _tickets_by_lookup(self, tenant_id: str, lookup_pk: str) -> list[Ticket]:
        entries = self._lookup(lookup_pk, keys.TICKET_LOOKUP_PREFIX, _MAX_LOOKUP)
        ids = list(dict.fromkeys(i["ticket_id"]["S"] for i in entries))
        found = self._batch_get([{"PK": _s(keys.ticket_pk(tenant_id, t)), "SK": _s(keys.TICKET_SK)} for t in ids])
        return [from_item(Ticket, i) for i in found]

    def create_ticket(self, ticket: Ticket, message: Message) -> None:
        items: list[dict[str, Any]] = [
            self._put_new(self._dedup_item(message)),
            self._put_new(self._ticket_item(ticket)),
            self._put_new(self._message_item(message)),
        ]
        if ticket.channel_thread_id:
            items.append(
                self._put_new(
                    self._thread_item(ticket.tenant_id, ticket.store_id, ticket.channel_thread_id, ticket.ticket_id)
                )
            )
        items.extend({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(ticket, None))
        self._transact(items)

    def append_message(self, previous: Ticket, updated: Ticket, message: Message) -> None:
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        updated.version = previous.version + 1
        ticket_put = {
            "Put": {
                "TableName": self._table,
                "Item": self._ticket_item(updated),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(previous.version)}},
            }
        }
        items: list[dict[str, Any]] = [
            self._put_new(self._dedup_item(message)),
            ticket_put,
            self._put_new(self._message_item(message)),
        ]
        if message.channel_thread_id and message.channel_thread_id != previous.channel_thread_id:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._thread_item(
                            updated.tenant_id, message.store_id, message.channel_thread_id, updated.ticket_id
                        ),
                        "ConditionExpression": "attribute_not_exists(PK) OR ticket_id = :t",
                        "ExpressionAttributeValues": {":t": _s(updated.ticket_id)},
                    }
                }
            )
        items.extend({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(updated, previous))
        try:
            self._transact(items)
        except Exception:
            updated.version = previous.version
            raise

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None:
        items = self._query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _s(keys.ticket_pk(tenant_id, ticket_id))},
            ConsistentRead=True,
        )
        ticket = next((i for i in items if i["SK"]["S"] == keys.TICKET_SK), None)
        if ticket is None:
            return None
        messages = [from_item(Message, i) for i in items if i["SK"]["S"].startswith(keys.MESSAGE_PREFIX)]
        return TicketView(ticket=from_item(Ticket, ticket), messages=messages)

    def list_queue(self, tenant_id: str, scope: str, scope_id: str | None, limit: int, cursor: str | None) -> QueuePage:
        index, pk_attr, pk = {
            QueueScope.TENANT: (keys.TENANT_QUEUE, "queue_pk", lambda: keys.tenant_queue_pk(tenant_id)),
            QueueScope.TEAM: (keys.TEAM_QUEUE, "team_queue_pk", lambda: keys.team_queue_pk(tenant_id, scope_id or "")),
            QueueScope.AGENT: (
                keys.AGENT_QUEUE,
                "agent_queue_pk",
                lambda: keys.agent_queue_pk(tenant_id, scope_id or ""),
            ),
        }[scope]
        pk_value = pk()
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{pk_attr} = :pk",
            "ExpressionAttributeValues": {":pk": _s(pk_value)},
            "Limit": limit,
        }
        if cursor:
            params["ExclusiveStartKey"] = _decode_cursor(cursor, pk_attr, pk_value)
        response = self._db.query(**params)
        last = response.get("LastEvaluatedKey")
        return QueuePage(
            tickets=[from_item(Ticket, i) for i in response.get("Items", [])],
            next_cursor=_encode_cursor(last) if last else None,
        )

    def _ticket_item(self, ticket: Ticket) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "PK": keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
            "SK": keys.TICKET_SK,
            "entity": "ticket",
        }
        due = ticket.sla_due_at
        if ticket.status.in_queue:
            # Sparse indexes: a ticket is in the queues only while an agent owes an answer; one
            # reopened by hand with no deadline running still shows, after every dated one.
            sort_key = keys.queue_sk(due or NO_DEADLINE, ticket.ticket_id)
            extra.update(queue_pk=keys.tenant_queue_pk(ticket.tenant_id), queue_sk=sort_key)
            if ticket.team_id:
                extra.update(team_queue_pk=keys.team_queue_pk(ticket.tenant_id, ticket.team_id), team_queue_sk=sort_key)
            if ticket.assignee_id:
                extra.update(
                    agent_queue_pk=keys.agent_queue_pk(ticket.tenant_id, ticket.assignee_id), agent_queue_sk=sort_key
                )
            if ticket.sla_warn_at is not None:  # near-breach filter: a sortable copy of the warning point
                extra["sla_warn_key"] = keys.sortable(ticket.sla_warn_at)
        elif not ticket.status.in_queue:
            # StatusIndex (sparse): tickets outside the queues by status, newest change first.
            extra.update(
                status_pk=keys.status_pk(ticket.tenant_id, ticket.status.value),
                status_sk=keys.status_sk(ticket.updated_at, ticket.ticket_id),
            )
        if ticket.status == TicketStatus.SNOOZED and ticket.snoozed_until is not None:
            # Snoozed index (sparse): wake-ups, soonest first; gone in the write that wakes it.
            extra.update(
                snooze_pk=keys.snoozed_pk(ticket.tenant_id),
                snooze_sk=keys.queue_sk(ticket.snoozed_until, ticket.ticket_id),
            )
        if ticket.sla_breached_at is not None:
            extra["sla_breached"] = True
        return to_item(ticket, **extra)

    @staticmethod
    def _message_item(message: Message, outbox: bool = True) -> dict[str, Any]:
        """A message item; an outbound one still ``queued`` is also in the sparse Outbox index
        (``helpdesk.replies.outbox``), unless ``outbox`` is False (a merge's display copy, never sent)."""
        extra: dict[str, Any] = {}
        if (
            outbox
            and message.direction == MessageDirection.OUTBOUND
            and message.delivery_status == DeliveryStatus.QUEUED
        ):
            extra.update(
                outbox_pk=keys.outbox_pk(message.tenant_id),
                outbox_sk=keys.outbox_sk(message.created_at + CHECK_AFTER, message.ticket_id, message.message_id),
            )
        return to_item(
            message,
            PK=keys.ticket_pk(message.tenant_id, message.ticket_id),
            SK=keys.message_sk(message.created_at, message.message_id),
            entity="message",
            **extra,
        )

    @staticmethod
    def _dedup_item(message: Message) -> dict[str, Any]:
        return {
            "PK": _s(
                keys.channel_message_pk(
                    message.tenant_id, message.store_id, message.channel_message_id or message.message_id
                )
            ),
            "SK": _s("CHMSG"),
            "entity": _s("channel_message"),
            "ticket_id": _s(message.ticket_id),
            "message_id": _s(message.message_id),
        }

    @staticmethod
    def _thread_item(tenant_id: str, store_id: str, thread_id: str, ticket_id: str) -> dict[str, Any]:
        return {
            "PK": _s(keys.thread_pk(tenant_id, store_id, thread_id)),
            "SK": _s("THREAD"),
            "entity": _s("thread"),
            "ticket_id": _s(ticket_id),
        }

    @staticmethod
    def _link_items(ticket: Ticket, previous: Ticket | None) -> list[dict[str, Any]]:
        """Lookup entries (order ref, buyer e-mail) the ticket did not have before."""
        pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
        lookup_sk = f"{keys.TICKET_LOOKUP_PREFIX}{keys.sortable(ticket.created_at)}#{ticket.ticket_id}"
        links = []
        old_refs = set(previous.order_refs) if previous else set()
        for ref in ticket.order_refs:
            if ref not in old_refs:
                links.append(
                    (
                        f"{keys.LINK_PREFIX}ORDER#{ticket.store_id}#{ref}",
                        keys.order_lookup_pk(ticket.tenant_id, ticket.store_id, ref),
                    )
                )
        if ticket.customer_email and (previous is None or previous.customer_email != ticket.customer_email):
            links.append(
                (
                    f"{keys.LINK_PREFIX}EMAIL#{ticket.customer_email}",
                    keys.email_lookup_pk(ticket.tenant_id, ticket.customer_email),
                )
            )
        return [
            {
                "PK": _s(pk),
                "SK": _s(sk),
                "entity": _s("link"),
                "ticket_id": _s(ticket.ticket_id),
                "lookup_pk": _s(lookup_pk),
                "lookup_sk": _s(lookup_sk),
            }
            for sk, lookup_pk in links
        ]

"""The ticket repository plus the writes of the agents' merge, split and snooze actions that
``update_ticket`` does not cover (``helpdesk.tickets.actions``; docs/data-model.md, "Writes that
cannot lose data"). Same table, same item builders as ``DynamoRepository``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb import DynamoRepository, batch_write
from helpdesk.core.errors import Conflict
from helpdesk.core.models import Message, Ticket

MAX_TRANSACTION = 100  # DynamoDB's limit of items in one TransactWriteItems


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class TicketMoves(DynamoRepository):
    # --- merge ----------------------------------------------------------------------------------

    def close_merged_source(
        self, previous: Ticket, updated: Ticket, event: Message, threads: Sequence[tuple[str, str]]
    ) -> None:
        """Merge step 1, one transaction: the source closed (``version`` checked) with its event, the
        target (``updated.merged_into``) checked to exist and not be merged itself — two merges
        crossing each other cannot both win — and every thread pointer that names the source moved
        to the target (conditional on still naming the source). Threads beyond what one transaction
        holds (a ticket that collected ~100 threads through merges) are moved right after, each on
        its own and with the same condition."""
        target = updated.merged_into
        if target is None:
            raise ValueError("the source must name the ticket it is merged into")
        mine = [
            (store, thread)
            for store, thread in threads
            if self._thread_owner(updated, store, thread) == previous.ticket_id
        ]
        items: list[dict[str, Any]] = [
            self._versioned(previous, updated),
            self._put_new(self._message_item(event)),
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": {"PK": _s(keys.ticket_pk(updated.tenant_id, target)), "SK": _s(keys.TICKET_SK)},
                    "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(merged_into)",
                }
            },
        ]
        room = MAX_TRANSACTION - len(items)
        items.extend(self._repoint(updated, store, thread, previous.ticket_id, target) for store, thread in mine[:room])
        self._write(previous, updated, items, "the source or the target changed meanwhile; re-read and retry")
        for store, thread in mine[room:]:
            try:
                self._db.put_item(**self._repoint(updated, store, thread, previous.ticket_id, target)["Put"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def copy_messages(self, messages: Sequence[Message]) -> None:
        """Store the messages under their own ticket and id; the same message again overwrites itself."""
        # Display copies: a queued reply's copy is not another message to send (not in the Outbox).
        batch_write(
            self._db, self._table, [{"PutRequest": {"Item": self._message_item(m, outbox=False)}} for m in messages]
        )

    # --- split ----------------------------------------------------------------------------------

    def split_message(
        self,
        previous: Ticket,
        updated: Ticket,
        event: Message,
        moved: Message,
        new_ticket: Ticket,
        new_message: Message,
        new_event: Message,
    ) -> None:
        """One transaction (7 items + the new ticket's links): the old ticket (``version`` checked) and
        its event, the message removed from the old timeline (it must still be there), the new ticket
        (``attribute_not_exists``) with the message under the same id and its event, and the
        channel-message marker naming the new ticket (a redelivery of that message, or an e-mail
        quoting it, finds the new ticket). The marker is overwritten as it is: a message that came in
        through a merge has a marker naming the merged ticket, not this one."""
        marker = self._dedup_item(new_message)
        items: list[dict[str, Any]] = [
            self._versioned(previous, updated),
            self._put_new(self._message_item(event)),
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {
                        "PK": _s(keys.ticket_pk(moved.tenant_id, moved.ticket_id)),
                        "SK": _s(keys.message_sk(moved.created_at, moved.message_id)),
                    },
                    "ConditionExpression": "attribute_exists(PK)",
                }
            },
            self._put_new(self._ticket_item(new_ticket)),
            self._put_new(self._message_item(new_message)),
            self._put_new(self._message_item(new_event)),
            {"Put": {"TableName": self._table, "Item": marker}},
        ]
        items.extend({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(new_ticket, None))
        self._write(previous, updated, items, "the ticket changed meanwhile; re-read and retry")

    # --- snooze ---------------------------------------------------------------------------------

    def list_snoozed_due(self, tenant_id: str, now: datetime, limit: int) -> list[str]:
        """Snoozed tickets due by ``now``, soonest first (a Query on the sparse Snoozed index)."""
        return self._due_on_index(
            keys.SNOOZED, "snooze", keys.snoozed_pk(tenant_id), now, limit, lambda item: item["ticket_id"]["S"]
        )

    # --- helpers --------------------------------------------------------------------------------

    def _versioned(self, previous: Ticket, updated: Ticket) -> dict[str, Any]:
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        updated.version = previous.version + 1
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._ticket_item(updated),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(previous.version)}},
            }
        }

    def _write(self, previous: Ticket, updated: Ticket, items: list[dict[str, Any]], conflict: str) -> None:
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            updated.version = previous.version
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                raise Conflict(conflict, reasons=reasons) from None
            raise

    def _thread_owner(self, ticket: Ticket, store_id: str, thread_id: str) -> str | None:
        pointer = self._get(keys.thread_pk(ticket.tenant_id, store_id, thread_id), "THREAD", consistent=True)
        return pointer["ticket_id"]["S"] if pointer else None

    def _repoint(self, ticket: Ticket, store_id: str, thread_id: str, source: str, target: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._thread_item(ticket.tenant_id, store_id, thread_id, target),
                "ConditionExpression": "ticket_id = :source",
                "ExpressionAttributeValues": {":source": _s(source)},
            }
        }

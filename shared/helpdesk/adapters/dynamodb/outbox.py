"""The outbox: queued outbound messages on the sparse Outbox index (``helpdesk.replies.outbox``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import TableAccess, _s
from helpdesk.replies.outbox import OutboxEntry


class OutboxRecords(TableAccess):
    def due_outbound(self, tenant_id: str, now: datetime, limit: int) -> list[OutboxEntry]:
        """Queued outbound messages due a look by ``now``, oldest first (a Query on the sparse
        Outbox index)."""

        def entry(item: dict[str, Any]) -> OutboxEntry:  # the index holds the table's keys: SK names the time stored
            check_at, ticket_id, message_id = item["outbox_sk"]["S"].split("#", 2)
            created_at = item["SK"]["S"].removeprefix(keys.MESSAGE_PREFIX).split("#", 1)[0]
            return OutboxEntry(ticket_id, message_id, keys.from_sortable(created_at), keys.from_sortable(check_at))

        return self._due_on_index(keys.OUTBOX, "outbox", keys.outbox_pk(tenant_id), now, limit, entry)

    def postpone_outbound(self, tenant_id: str, entry: OutboxEntry, check_at: datetime) -> bool:
        """Move a queued message's next look to ``check_at``; False when it is no longer queued."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={
                    "PK": _s(keys.ticket_pk(tenant_id, entry.ticket_id)),
                    "SK": _s(keys.message_sk(entry.created_at, entry.message_id)),
                },
                UpdateExpression="SET outbox_sk = :next",
                ConditionExpression="delivery_status = :queued AND attribute_exists(outbox_pk)",
                ExpressionAttributeValues={
                    ":next": _s(keys.outbox_sk(check_at, entry.ticket_id, entry.message_id)),
                    ":queued": _s("queued"),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

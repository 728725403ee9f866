"""Polling: each store's cursors and health."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import TableAccess, _s, from_item, to_item
from helpdesk.core.errors import Conflict
from helpdesk.core.models import (
    StoreHealth,
)


class PollingRecords(TableAccess):
    def get_cursor(self, tenant_id: str, store_id: str, stream: str) -> str | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.cursor_sk(store_id, stream), consistent=True)
        return item["cursor"]["S"] if item else None

    def advance_cursor(self, tenant_id: str, store_id: str, stream: str, previous: str | None, new: str) -> None:
        params: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "PK": _s(keys.tenant_pk(tenant_id)),
                "SK": _s(keys.cursor_sk(store_id, stream)),
                "entity": _s("cursor"),
                "cursor": _s(new),
            },
        }
        if previous is None:
            params["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            params["ConditionExpression"] = "#cursor = :previous"  # CURSOR is a reserved word
            params["ExpressionAttributeNames"] = {"#cursor": "cursor"}
            params["ExpressionAttributeValues"] = {":previous": _s(previous)}
        try:
            self._db.put_item(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("the cursor moved meanwhile (another poller?)", store_id=store_id) from None
            raise

    def set_cursor(self, tenant_id: str, store_id: str, stream: str, value: str) -> None:
        """Unconditional (operators rewinding a store for a replay)."""
        self._put(
            {
                "PK": _s(keys.tenant_pk(tenant_id)),
                "SK": _s(keys.cursor_sk(store_id, stream)),
                "entity": _s("cursor"),
                "cursor": _s(value),
            }
        )

    def get_health(self, tenant_id: str, store_id: str) -> StoreHealth | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.health_sk(store_id))
        return from_item(StoreHealth, item) if item else None

    def put_health(self, health: StoreHealth) -> None:
        self._put(
            to_item(
                health, PK=keys.tenant_pk(health.tenant_id), SK=keys.health_sk(health.store_id), entity="store_health"
            )
        )

"""Orders: newest version kept, the buyer's orders across stores."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import TableAccess, _s, from_item, to_item
from helpdesk.core.models import (
    Order,
    OrderStatus,
)


class OrderRecords(TableAccess):
    def upsert_order(self, order: Order) -> bool:
        """Merge an order event into the stored order. Fields the event does not know (None, an
        empty item list, UNKNOWN status — e.g. a fulfillment event) keep their stored values; an
        event older than the stored order changes nothing."""
        fields = to_item(order, entity="order")
        if order.buyer_email:  # the buyer's orders, newest first (Lookup index)
            fields["lookup_pk"] = _s(keys.email_lookup_pk(order.tenant_id, order.buyer_email))
            fields["lookup_sk"] = _s(keys.order_lookup_sk(order))
        if not order.items:
            fields.pop("items", None)
        if order.status == OrderStatus.UNKNOWN:
            fields.pop("status", None)
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"PK": _s(keys.order_pk(order.tenant_id, order.store_id, order.order_ref)), "SK": _s("ORDER")},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if order.updated_at is not None:
            index = list(fields).index("updated_at")
            params["ConditionExpression"] = f"attribute_not_exists(PK) OR #f{index} <= :v{index}"
        try:
            self._db.update_item(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # a newer version of the order is already stored
            raise
        return True

    def find_orders_by_email(self, tenant_id: str, email: str, limit: int = 20) -> list[Order]:
        """The buyer's orders in every store of the tenant, newest first."""
        entries = self._lookup(keys.email_lookup_pk(tenant_id, email), keys.ORDER_LOOKUP_PREFIX, limit)
        found = self._batch_get([{"PK": i["PK"], "SK": i["SK"]} for i in entries])
        orders = [from_item(Order, i) for i in found]
        return sorted(orders, key=lambda o: keys.order_lookup_sk(o), reverse=True)

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None:
        item = self._get(keys.order_pk(tenant_id, store_id, order_ref), "ORDER")
        return from_item(Order, item) if item else None

"""Orders: newest version kept, the buyer's orders across stores."""

from __future__ import annotations

from datetime import UTC, datetime

from helpdesk.core.models import (
    Order,
)
from tests.fakes.repository.base import InMemoryTable


class OrderRecords(InMemoryTable):
    def upsert_order(self, order: Order) -> bool:
        self._enter("upsert_order", order)
        key = (order.tenant_id, order.store_id, order.order_ref)
        stored = self.orders.get(key)
        if (
            stored is not None
            and order.updated_at is not None
            and stored.updated_at is not None
            and stored.updated_at > order.updated_at
        ):
            return False  # a newer version is already stored
        self.orders[key] = order.model_copy(deep=True)
        return True

    def find_orders_by_email(self, tenant_id: str, email: str, limit: int = 20) -> list[Order]:
        self._enter("find_orders_by_email", tenant_id, email)
        found = [
            o for (tenant, _, _), o in self.orders.items() if tenant == tenant_id and o.buyer_email == email.lower()
        ]
        found.sort(key=lambda o: o.ordered_at or o.updated_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return [o.model_copy(deep=True) for o in found[:limit]]

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None:
        self._enter("get_order", tenant_id, store_id, order_ref)
        order = self.orders.get((tenant_id, store_id, order_ref))
        return order.model_copy(deep=True) if order else None

"""Stores, channel routes, ingest errors, health and SLA policies."""

from __future__ import annotations

from typing import Any

from helpdesk.core.errors import Conflict
from helpdesk.core.models import (
    SlaPolicy,
    Store,
    StoreHealth,
)
from tests.fakes.repository.base import InMemoryTable


class StoreRecords(InMemoryTable):
    def get_store(self, tenant_id: str, store_id: str) -> Store | None:
        self._enter("get_store", tenant_id, store_id)
        store = self.stores.get((tenant_id, store_id))
        return store.model_copy(deep=True) if store else None

    def put_store(self, store: Store) -> None:
        self.stores[(store.tenant_id, store.store_id)] = store.model_copy(deep=True)

    def create_store(self, store: Store) -> None:
        self._enter("create_store", store)
        if (store.tenant_id, store.store_id) in self.stores:
            raise Conflict("store id already taken")
        self.put_store(store)

    def list_stores(self, tenant_id: str) -> list[Store]:
        return [s.model_copy(deep=True) for (tenant, _), s in self.stores.items() if tenant == tenant_id]

    def put_channel_route(self, channel: str, account_id: str, tenant_id: str, store_id: str) -> None:
        self.routes[(channel, account_id)] = (tenant_id, store_id)

    def list_ingest_errors(self, tenant_id: str, store_id: str, limit: int = 50) -> list:
        return [e for e in self.ingest_errors if e.tenant_id == tenant_id and e.store_id == store_id][::-1][:limit]

    def record_ingest_error(self, error: Any) -> None:
        self.ingest_errors.append(error)

    def list_health(self, tenant_id: str) -> list[StoreHealth]:
        return [h.model_copy(deep=True) for (tenant, _), h in self.health.items() if tenant == tenant_id]

    def put_sla_policy(self, policy: SlaPolicy) -> None:
        self.policies[(policy.tenant_id, policy.policy_id)] = policy.model_copy(deep=True)

    def get_sla_policy(self, tenant_id: str, policy_id: str) -> SlaPolicy | None:
        self._enter("get_sla_policy", tenant_id, policy_id)
        policy = self.policies.get((tenant_id, policy_id))
        return policy.model_copy(deep=True) if policy else None

    def list_policy_specs(self, tenant_id: str) -> list[Any]:
        return [spec.model_copy(deep=True) for spec in self.policy_specs.get(tenant_id, [])]

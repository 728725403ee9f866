"""The tenant's own records: the tenant, its stores, ingest errors, channel routes, SLA policies."""

from __future__ import annotations

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import INGEST_ERROR_DAYS, TableAccess, _s, from_item, to_item
from helpdesk.core.errors import Conflict
from helpdesk.core.models import (
    IngestError,
    SlaPolicy,
    Store,
    StoreHealth,
    Tenant,
)


class TenantRecords(TableAccess):
    def put_tenant(self, tenant: Tenant) -> None:
        self._put(to_item(tenant, PK=keys.tenant_pk(tenant.tenant_id), SK="PROFILE", entity="tenant"))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = self._get(keys.tenant_pk(tenant_id), "PROFILE")
        return from_item(Tenant, item) if item else None

    def put_store(self, store: Store) -> None:
        self._put(to_item(store, PK=keys.tenant_pk(store.tenant_id), SK=keys.store_sk(store.store_id), entity="store"))

    def get_store(self, tenant_id: str, store_id: str) -> Store | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.store_sk(store_id))
        return from_item(Store, item) if item else None

    def create_store(self, store: Store) -> None:
        item = to_item(store, PK=keys.tenant_pk(store.tenant_id), SK=keys.store_sk(store.store_id), entity="store")
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("store id already taken", store_id=store.store_id) from None
            raise

    def record_ingest_error(self, error: IngestError) -> None:
        expires = int(error.at.timestamp()) + INGEST_ERROR_DAYS * 86400
        self._put(
            to_item(
                error,
                PK=keys.tenant_pk(error.tenant_id),
                SK=keys.ingest_error_sk(error.store_id, error.at, error.delivery_id),
                entity="ingest_error",
                expires_at=expires,
            )
        )

    def list_ingest_errors(self, tenant_id: str, store_id: str, limit: int = 50) -> list[IngestError]:
        response = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": _s(keys.tenant_pk(tenant_id)), ":p": _s(f"INGESTERR#{store_id}#")},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [from_item(IngestError, i) for i in response.get("Items", [])]

    def put_channel_route(self, channel: str, account_id: str, tenant_id: str, store_id: str) -> None:
        self._put(
            {
                "PK": _s(keys.channel_route_pk(channel, account_id)),
                "SK": _s("ROUTE"),
                "entity": _s("route"),
                "tenant_id": _s(tenant_id),
                "store_id": _s(store_id),
            }
        )

    def find_store_by_account(self, channel: str, account_id: str) -> Store | None:
        route = self._get(keys.channel_route_pk(channel, account_id), "ROUTE")
        return self.get_store(route["tenant_id"]["S"], route["store_id"]["S"]) if route else None

    def list_health(self, tenant_id: str) -> list[StoreHealth]:
        return [from_item(StoreHealth, i) for i in self._by_prefix(tenant_id, "HEALTH#")]

    def list_stores(self, tenant_id: str) -> list[Store]:
        return [from_item(Store, i) for i in self._by_prefix(tenant_id, "STORE#")]

    def put_sla_policy(self, policy: SlaPolicy) -> None:
        self._put(
            to_item(
                policy,
                PK=keys.tenant_pk(policy.tenant_id),
                SK=keys.sla_policy_sk(policy.policy_id),
                entity="sla_policy",
            )
        )

    def get_sla_policy(self, tenant_id: str, policy_id: str) -> SlaPolicy | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.sla_policy_sk(policy_id))
        return from_item(SlaPolicy, item) if item else None

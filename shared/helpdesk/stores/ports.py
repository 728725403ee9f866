"""The interfaces the stores services depend on; adapters (``helpdesk.adapters``) and the tests' fakes
(``tests/fakes``) implement them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from helpdesk.core.models import Channel, IngestError, Store, StoreHealth


class SetupRepository(Protocol):
    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...

    def put_store(self, store: Store) -> None: ...

    def create_store(self, store: Store) -> None:
        """Store a new store; Conflict if the id is taken."""
        ...

    def list_stores(self, tenant_id: str) -> list[Store]: ...

    def list_health(self, tenant_id: str) -> list[StoreHealth]: ...

    def list_ingest_errors(self, tenant_id: str, store_id: str, limit: int = 50) -> list[IngestError]: ...

    def put_channel_route(self, channel: str, account_id: str, tenant_id: str, store_id: str) -> None:
        """Pushes that name only the channel account (Amazon SP-API notifications) find the store."""
        ...


class SecretWriter(Protocol):
    def create(self, name: str, value: Mapping[str, str]) -> None: ...

    def read(self, name: str) -> dict[str, str]: ...

    def replace(self, name: str, value: Mapping[str, str]) -> None: ...

    def delete(self, name: str) -> None: ...


class ChannelGateway(Protocol):
    """The channel calls setup needs (``helpdesk.channels.gateway`` implements it over httpx)."""

    def has_api(self, channel: Channel) -> bool: ...

    def registers_webhooks(self, channel: Channel) -> bool: ...

    def is_polled(self, channel: Channel) -> bool: ...

    def check(self, store: Store, credentials: Mapping[str, str]) -> str: ...

    def register(self, store: Store, credentials: Mapping[str, str], url: str, secret: str) -> list[str]: ...

    def remove(self, store: Store, credentials: Mapping[str, str], webhook_ids: list[str]) -> None: ...


class PollScheduler(Protocol):
    def ensure_tenant_schedule(self, tenant_id: str) -> None:
        """The tenant's poll schedule exists (idempotent)."""
        ...


class StoreCredentials(Protocol):
    """A store's channel credentials (Secrets Manager in AWS), and writing back what a channel rotated."""

    def credentials(self, store: Store) -> Mapping[str, str]: ...

    def update_credentials(self, store: Store, changes: Mapping[str, str]) -> None:
        """Merge ``changes`` into the store's secret (a channel rotated a refresh token)."""
        ...

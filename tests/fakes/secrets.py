"""``helpdesk.ingest.ports.SecretProvider``: webhook secrets per store, with rotation."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpdesk.core.models import (
    Store,
)


@dataclass
class StaticSecrets:
    """Webhook secrets per (tenant, store); records which stores were asked for. ``rotated`` holds
    values the source has now but the cache has not seen: only ``refresh=True`` reads them."""

    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    rotated: dict[tuple[str, str], str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)

    def webhook_secret(self, store: Store, refresh: bool = False) -> str:
        self.asked.append(store.store_id)
        key = (store.tenant_id, store.store_id)
        if refresh:
            self.refreshed.append(store.store_id)
            if key in self.rotated:
                self.secrets[key] = self.rotated.pop(key)
        return self.secrets[key]

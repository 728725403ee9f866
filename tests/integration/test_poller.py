"""The poller function on moto: cursors and store health in DynamoDB, envelopes on the ingest queue."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.channels.base import PollResult
from helpdesk.core.errors import ChannelError, Conflict
from helpdesk.core.models import Channel, InboundMessage, Store
from helpdesk.ingest import polling
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import drain_ingest_queue


def test_cursor_only_moves_from_the_value_it_was_read_at(repo: DynamoRepository) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    assert repo.get_cursor(tenant, "m1", "inbox") is None
    repo.advance_cursor(tenant, "m1", "inbox", None, "2026-11-01T00:00:00Z")
    with pytest.raises(Conflict):
        repo.advance_cursor(tenant, "m1", "inbox", None, "2026-11-02T00:00:00Z")
    repo.advance_cursor(tenant, "m1", "inbox", "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z")
    with pytest.raises(Conflict):
        repo.advance_cursor(tenant, "m1", "inbox", "2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z")
    assert repo.get_cursor(tenant, "m1", "inbox") == "2026-11-03T00:00:00Z"


class _Http:
    def close(self) -> None:
        pass


class _Connector:
    channel = "mirakl"

    def client(self, store: Store, credentials: dict[str, str]) -> _Http:
        assert credentials == {"api_key": f"key-{store.store_id}"}
        return _Http()

    def poll(self, store: Store, http: Any, cursor: str | None, now: datetime) -> PollResult:
        if store.store_id == "down":
            raise ChannelError("mirakl unreachable")
        message = InboundMessage(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.MIRAKL,
            channel_message_id=f"{store.store_id}-msg-1",
            channel_thread_id=f"{store.store_id}-thread-1",
            order_ref="ORD-1",
            body="Dov'è il mio ordine?",
            received_at=now,
        )
        return PollResult(
            messages=[message],
            next_cursor="2026-11-23T10:00:00Z",
            raw_pages=[json.dumps({"data": [], "store": store.store_id}).encode()],
        )


def test_scheduled_tick_polls_stores_and_records_health(
    stack: LocalStack, repo: DynamoRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "poll_connector", lambda channel: _Connector())
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    for store_id in ("up", "down"):
        name = f"helpdesk/{tenant}/{store_id}"
        stack.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps({"api_key": f"key-{store_id}"}))
        repo.put_store(
            Store(
                tenant_id=tenant,
                store_id=store_id,
                channel=Channel.MIRAKL,
                display_name=store_id,
                base_url="https://marketplace.example",
                secret_name=name,
                created_at=datetime.now(UTC),
            )
        )
    drain_ingest_queue(stack)
    result = stack.functions["PollerFunction"].invoke({"tenant_id": tenant})
    assert result == {"tenants": [{"tenant_id": tenant, "stores": 2, "polled": 2, "failed": 1, "messages": 1}]}
    assert repo.get_cursor(tenant, "up", "inbox") == "2026-11-23T10:00:00Z"
    assert repo.get_cursor(tenant, "down", "inbox") is None
    down = repo.get_health(tenant, "down")
    assert down is not None and down.consecutive_failures == 1 and down.last_error == "mirakl unreachable"
    up = repo.get_health(tenant, "up")
    assert up is not None and up.healthy and up.last_message_at is not None
    assert drain_ingest_queue(stack) == 1
    (ticket,) = repo.find_tickets_by_order(tenant, "up", "ORD-1")
    assert ticket.channel == Channel.MIRAKL


def test_rotated_credentials_are_merged_into_the_secret(stack: LocalStack) -> None:
    from helpdesk.adapters.aws import SecretsManagerSecrets

    client = stack.client("secretsmanager")
    client.create_secret(Name="helpdesk/t-rot/etsy", SecretString=json.dumps({"keystring": "k", "refresh_token": "a"}))
    store = Store(
        tenant_id="t-rot",
        store_id="etsy",
        channel=Channel.ETSY,
        display_name="Etsy",
        secret_name="helpdesk/t-rot/etsy",
        created_at=datetime.now(UTC),
    )
    secrets = SecretsManagerSecrets(client=client)
    assert secrets.credentials(store)["refresh_token"] == "a"
    secrets.update_credentials(store, {"refresh_token": "b"})
    assert secrets.credentials(store) == {"keystring": "k", "refresh_token": "b"}  # cache refreshed too

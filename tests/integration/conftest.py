"""Integration tier: the real handlers, domain and adapters against a moto server built from
template.yaml (started once per session by the project's own LocalStack)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.models import Channel, Store
from infrastructure.local.http import build_event
from infrastructure.local.stack import LocalStack
from tests.conftest import woo_signature

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack() -> Any:
    with LocalStack(stage="it", poll_event_sources=False) as local:
        yield local


@pytest.fixture(scope="session")
def repo(stack: LocalStack) -> DynamoRepository:
    return DynamoRepository(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])


@dataclass
class Seller:
    tenant_id: str
    store_id: str
    secret: str

    def webhook_event(self, body: bytes, *, topic: str = "order.created", delivery_id: str = "1",
                      signature: str | None = None, content_type: str = "application/json") -> dict[str, Any]:
        headers = {
            "content-type": content_type,
            "x-wc-webhook-topic": topic,
            "x-wc-webhook-resource": topic.split(".")[0],
            "x-wc-webhook-event": topic.split(".")[-1],
            "x-wc-webhook-source": "https://shop.example/",
            "x-wc-webhook-id": "12",
            "x-wc-webhook-delivery-id": delivery_id,
            "x-wc-webhook-signature": woo_signature(body, self.secret) if signature is None else signature,
        }
        path = f"/webhooks/{self.tenant_id}/woocommerce/{self.store_id}"
        return build_event("POST", path, "", headers, body, "/webhooks/{tenant_id}/{channel}/{store_id}",
                           {"tenant_id": self.tenant_id, "channel": "woocommerce", "store_id": self.store_id}, None)


@pytest.fixture
def seller(stack: LocalStack, repo: DynamoRepository) -> Seller:
    """A fresh tenant with one WooCommerce store whose webhook secret is in Secrets Manager."""
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    store_id = "woo-1"
    secret = uuid.uuid4().hex
    secret_name = f"helpdesk/{tenant_id}/{store_id}"
    stack.client("secretsmanager").create_secret(Name=secret_name,
                                                 SecretString=json.dumps({"webhook_secret": secret}))
    repo.put_store(Store(tenant_id=tenant_id, store_id=store_id, channel=Channel.WOOCOMMERCE,
                         display_name="Shop", secret_name=secret_name, created_at=datetime.now(UTC)))
    return Seller(tenant_id, store_id, secret)


def drain_ingest_queue(stack: LocalStack) -> int:
    """Run the ingest consumer over everything on the queue, as its SQS event source would."""
    function = stack.functions["IngestConsumerFunction"]
    props = function.events["Inbound"]["Properties"]
    total = 0
    while True:
        received = stack.drain_sqs_once(function, props)
        if not received:
            return total
        total += received


def agent_event(method: str, path: str, route: str, *, tenant_id: str, agent_id: str = "agent-1",
                role: str = "agent", query: str = "", params: dict[str, str] | None = None,
                json_body: Any = None) -> dict[str, Any]:
    claims = {"sub": agent_id, "custom:tenant_id": tenant_id, "custom:role": role}
    headers = {"host": "api.local"}
    body = b""
    if json_body is not None:
        headers["content-type"] = "application/json"
        body = json.dumps(json_body).encode()
    return build_event(method, path, query, headers, body, route, params or {}, claims)


def buyer_messages(view: Any) -> list[Any]:
    """A ticket's timeline without the system events the intake workflow writes asynchronously."""
    return [m for m in view.messages if m.direction.value != "event"]

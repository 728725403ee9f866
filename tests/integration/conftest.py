"""Integration tier: the real handlers, domain and adapters against a moto server built from
template.yaml (started once per session by the project's own LocalStack)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, Store
from infrastructure.local.http import build_event
from infrastructure.local.stack import LocalStack
from tests.conftest import woo_signature


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

    def webhook_event(
        self,
        body: bytes,
        *,
        topic: str = "order.created",
        delivery_id: str = "1",
        signature: str | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
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
        return build_event(
            "POST",
            path,
            "",
            headers,
            body,
            "/webhooks/{tenant_id}/{channel}/{store_id}",
            {"tenant_id": self.tenant_id, "channel": "woocommerce", "store_id": self.store_id},
            None,
        )


@pytest.fixture
def seller(stack: LocalStack, repo: DynamoRepository) -> Seller:
    """A fresh tenant with one WooCommerce store whose webhook secret is in Secrets Manager."""
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    store_id = "woo-1"
    secret = uuid.uuid4().hex
    secret_name = f"helpdesk/{tenant_id}/{store_id}"
    stack.client("secretsmanager").create_secret(Name=secret_name, SecretString=json.dumps({"webhook_secret": secret}))
    repo.put_store(
        Store(
            tenant_id=tenant_id,
            store_id=store_id,
            channel=Channel.WOOCOMMERCE,
            display_name="Shop",
            secret_name=secret_name,
            created_at=datetime.now(UTC),
        )
    )
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


def agent_event(
    method: str,
    path: str,
    route: str,
    *,
    tenant_id: str,
    agent_id: str = "agent-1",
    role: str = "agent",
    query: str = "",
    params: dict[str, str] | None = None,
    json_body: Any = None,
) -> dict[str, Any]:
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


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the developer's own AWS account: fixed fake credentials, no instance metadata lookups
    (adapter tests on botocore's Stubber: no request may leave for the session's server or AWS)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # the session's server is not the stubbed service


def fresh_table(stack: LocalStack, name: str) -> Iterator[Any]:
    """An empty PK/SK table on the session's moto server for one adapter test, deleted afterwards (moto's
    in-process mock would reset the server's state, which lives in the same process)."""
    client = stack.client("dynamodb")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
    )
    try:
        yield client
    finally:
        client.delete_table(TableName=name)

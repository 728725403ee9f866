"""The seller setup API on moto: admin only, tenant from the token, e-mail store with its inbound
address, store list with health, and the tenant poll schedule in EventBridge Scheduler."""

from __future__ import annotations

import json
from typing import Any

from helpdesk.adapters.aws import EventBridgePollScheduler
from helpdesk.adapters.dynamodb import DynamoRepository
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


def _call(
    stack: LocalStack,
    method: str,
    path: str,
    route: str,
    tenant_id: str,
    *,
    role: str = "admin",
    body: Any = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    event = agent_event(method, path, route, tenant_id=tenant_id, role=role, json_body=body, params=params)
    response = stack.functions["SetupApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"])


def test_only_admins_manage_stores(stack: LocalStack, seller: Seller) -> None:
    status, body = _call(stack, "GET", "/stores", "/stores", seller.tenant_id, role="agent")
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_email_store_is_connected_listed_and_disconnected(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    status, created = _call(
        stack,
        "POST",
        "/stores",
        "/stores",
        seller.tenant_id,
        body={
            "channel": "email",
            "display_name": "Support mailbox",
            "store_id": "support",
            "linked_store_ids": [seller.store_id],
            "default_language": "de",
        },
    )
    assert status == 201, created
    assert created["inbound_address"] == f"{seller.tenant_id}+support@inbound.example.com"
    stored = repo.get_store(seller.tenant_id, "support")
    assert stored is not None and stored.linked_store_ids == [seller.store_id] and stored.secret_name is None

    status, listed = _call(stack, "GET", "/stores", "/stores", seller.tenant_id)
    assert status == 200 and {s["store"]["store_id"] for s in listed} == {"support", seller.store_id}
    status, others = _call(stack, "GET", "/stores", "/stores", "another-tenant")
    assert status == 200 and others == []

    status, missing = _call(
        stack, "DELETE", "/stores/support", "/stores/{store_id}", "another-tenant", params={"store_id": "support"}
    )
    assert status == 404 and missing["error"]["code"] == "not_found"
    status, gone = _call(
        stack, "DELETE", "/stores/support", "/stores/{store_id}", seller.tenant_id, params={"store_id": "support"}
    )
    assert status == 200 and gone["status"] == "disconnected"


def test_bad_requests_say_why(stack: LocalStack, seller: Seller) -> None:
    status, body = _call(
        stack, "POST", "/stores", "/stores", seller.tenant_id, body={"channel": "carrier-pigeon", "display_name": "x"}
    )
    assert status == 422 and body["error"]["code"] == "validation_error"
    status, body = _call(
        stack,
        "POST",
        "/stores",
        "/stores",
        seller.tenant_id,
        body={"channel": "mirakl", "display_name": "MP", "credentials": {"api_key": "k"}},
    )
    assert status == 400 and "base_url" in body["error"]["message"]


def test_tenant_poll_schedule_is_created_once(stack: LocalStack) -> None:
    client = stack.client("scheduler")
    scheduler = EventBridgePollScheduler(
        client,
        "arn:aws:lambda:eu-west-1:123456789012:function:poller",
        "arn:aws:iam::123456789012:role/poll",
        rate_minutes=2,
    )
    scheduler.ensure_tenant_schedule("t-sched")
    scheduler.ensure_tenant_schedule("t-sched")
    schedule = client.get_schedule(Name="helpdesk-poll-t-sched")
    assert schedule["ScheduleExpression"] == "rate(2 minutes)"
    assert json.loads(schedule["Target"]["Input"]) == {"tenant_id": "t-sched"}


def test_woocommerce_store_connected_through_the_api_accepts_its_signed_webhooks(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    """Connect (credentials checked, secret stored, webhooks registered at the shop — the shop mocked
    at the httpx transport), then a delivery signed with the registered secret is accepted;
    disconnect removes the webhooks and the secret, and deliveries are refused."""
    import httpx
    import respx

    from tests.conftest import ROOT, woo_signature

    samples = ROOT / "infrastructure/local/samples/woocommerce"
    shop = "https://coffee.example"
    registered: list[dict[str, Any]] = []

    def create_webhook(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        registered.append(body)
        answer = json.loads((samples / "webhook_created.json").read_text())
        answer.update(id=200 + len(registered), topic=body["topic"], delivery_url=body["delivery_url"])
        return httpx.Response(201, json=answer)

    with respx.mock(assert_all_called=False) as shop_api:
        shop_api.get(f"{shop}/wp-json/wc/v3/system_status").mock(
            return_value=httpx.Response(200, content=(samples / "system_status_site_url.json").read_bytes())
        )
        shop_api.post(f"{shop}/wp-json/wc/v3/webhooks").mock(side_effect=create_webhook)
        deleted = shop_api.delete(url__regex=rf"{shop}/wp-json/wc/v3/webhooks/\d+").mock(
            return_value=httpx.Response(200, json={"id": 1})
        )
        status, created = _call(
            stack,
            "POST",
            "/stores",
            "/stores",
            seller.tenant_id,
            body={
                "channel": "woocommerce",
                "display_name": "Coffee shop",
                "store_id": "coffee",
                "base_url": shop,
                "credentials": {"consumer_key": "ck_live", "consumer_secret": "cs_live"},
            },
        )
        assert status == 201, created
        assert "cs_live" not in json.dumps(created)
        webhook_url = f"https://api.local/webhooks/{seller.tenant_id}/woocommerce/coffee"
        assert [w["topic"] for w in registered] == ["order.created", "order.updated", "order.deleted", "order.restored"]
        assert {w["delivery_url"] for w in registered} == {webhook_url}
        secret = registered[0]["secret"]
        stored = repo.get_store(seller.tenant_id, "coffee")
        assert stored is not None and stored.webhook_ids == ["201", "202", "203", "204"]
        assert "cs_live" not in str(
            stack.client("dynamodb").get_item(
                TableName=repo._table, Key={"PK": {"S": f"TENANT#{seller.tenant_id}"}, "SK": {"S": "STORE#coffee"}}
            )
        )

        body = json.dumps(woo_order).encode()
        event = seller.webhook_event(body, delivery_id="77", signature=woo_signature(body, secret))
        event["pathParameters"]["store_id"] = "coffee"
        assert stack.functions["WebhookFunction"].invoke(event)["statusCode"] == 202

        status, gone = _call(
            stack, "DELETE", "/stores/coffee", "/stores/{store_id}", seller.tenant_id, params={"store_id": "coffee"}
        )
        assert status == 200 and gone["status"] == "disconnected" and deleted.call_count == 4
    assert stack.functions["WebhookFunction"].invoke(event)["statusCode"] == 404
    secret_state = stack.client("secretsmanager").describe_secret(SecretId=f"helpdesk/{seller.tenant_id}/coffee")
    assert "DeletedDate" in secret_state  # scheduled for deletion


def test_an_unreadable_delivery_shows_in_the_stores_ingest_errors(stack: LocalStack, seller: Seller) -> None:
    body = b'{"id": "not an order"'
    response = stack.functions["WebhookFunction"].invoke(seller.webhook_event(body, delivery_id="bad-1"))
    assert response["statusCode"] == 400
    status, errors = _call(
        stack,
        "GET",
        f"/stores/{seller.store_id}/ingest-errors",
        "/stores/{store_id}/ingest-errors",
        seller.tenant_id,
        params={"store_id": seller.store_id},
    )
    assert status == 200 and len(errors) == 1
    assert errors[0]["delivery_id"] == "wc-12-bad-1" and errors[0]["quarantine_key"].startswith("quarantine/")
    kept = stack.client("s3").get_object(
        Bucket=stack.resolver.refs["RawPayloadBucket"], Key=errors[0]["quarantine_key"]
    )
    assert kept["Body"].read() == body
    status, _ = _call(
        stack,
        "GET",
        f"/stores/{seller.store_id}/ingest-errors",
        "/stores/{store_id}/ingest-errors",
        "another-tenant",
        params={"store_id": seller.store_id},
    )
    assert status == 404


def test_rules_and_policies_are_managed_and_dry_run_explains_a_message(stack: LocalStack, seller: Seller) -> None:
    tenant = seller.tenant_id
    status, body = _call(
        stack,
        "PUT",
        "/rules",
        "/rules",
        tenant,
        body=[
            {"rule_id": "ok", "name": "fine", "actions": [{"type": "add_tags", "value": ["x"]}]},
            {
                "rule_id": "bad",
                "name": "bad",
                "conditions": [{"field": "channel", "op": "gt", "value": 3}],
                "actions": [{"type": "add_tags", "value": ["y"]}],
            },
        ],
    )
    assert status == 422 and body["error"]["code"] == "invalid_rules"
    assert body["error"]["details"]["errors"][0]["rule_id"] == "bad"
    rules = [
        {
            "rule_id": "cancel",
            "name": "Cancellations urgent",
            "position": 1,
            "conditions": [{"field": "intent", "op": "eq", "value": "cancellation"}],
            "actions": [{"type": "set_priority", "value": "urgent"}, {"type": "add_tags", "value": ["storno"]}],
        },
        {
            "rule_id": "fr",
            "name": "French team",
            "position": 2,
            "conditions": [{"field": "language", "op": "eq", "value": "fr"}],
            "actions": [{"type": "assign_team", "value": "fr-team"}],
        },
    ]
    status, saved = _call(stack, "PUT", "/rules", "/rules", tenant, body=rules)
    assert status == 200 and [r["rule_id"] for r in saved] == ["cancel", "fr"]
    status, _ = _call(stack, "PUT", "/rules", "/rules", tenant, body=rules[:1])  # "fr" dropped
    assert [r["rule_id"] for r in _call(stack, "GET", "/rules", "/rules", tenant)[1]] == ["cancel"]
    status, policies = _call(
        stack,
        "PUT",
        "/sla-policies",
        "/sla-policies",
        tenant,
        body=[
            {
                "policy_id": "cancel-1h",
                "name": "Cancellations",
                "first_response_minutes": 60,
                "next_response_minutes": 60,
                "intents": ["cancellation"],
            },
            {
                "policy_id": "standard",
                "name": "Standard",
                "first_response_minutes": 1440,
                "next_response_minutes": 1440,
            },
        ],
    )
    assert status == 200 and len(policies) == 2

    status, answer = _call(
        stack,
        "POST",
        "/rules/dry-run",
        "/rules/dry-run",
        tenant,
        body={"channel": "mirakl", "body": "Bitte stornieren Sie meine Bestellung MP1-A", "language": "de"},
    )
    assert status == 200, answer
    decision = answer["decision"]
    assert decision["intent"] == "cancellation" and decision["priority"] == "urgent"
    assert "storno" in decision["tags"] and decision["sla_policy_id"] == "cancel-1h"
    assert [r["rule_id"] for r in answer["rules"]["fired"]] == ["cancel"]
    assert answer["rules"]["fired"][0]["matched"]  # which condition held, with the value it saw
    status, _ = _call(
        stack, "POST", "/rules/dry-run", "/rules/dry-run", tenant, role="agent", body={"channel": "mirakl", "body": "x"}
    )
    assert status == 403

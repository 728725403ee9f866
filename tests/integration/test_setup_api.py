"""The seller setup API on moto: admin only, tenant from the token, e-mail store with its inbound
address, store list with health, and the tenant poll schedule in EventBridge Scheduler."""

from __future__ import annotations

import json
from typing import Any

from helpdesk.adapters.aws import EventBridgePollScheduler
from helpdesk.adapters.dynamodb import DynamoRepository
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


def _call(stack: LocalStack, method: str, path: str, route: str, tenant_id: str, *, role: str = "admin",
          body: Any = None, params: dict[str, str] | None = None) -> tuple[int, Any]:
    event = agent_event(method, path, route, tenant_id=tenant_id, role=role, json_body=body, params=params)
    response = stack.functions["SetupApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"])


def test_only_admins_manage_stores(stack: LocalStack, seller: Seller) -> None:
    status, body = _call(stack, "GET", "/stores", "/stores", seller.tenant_id, role="agent")
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_email_store_is_connected_listed_and_disconnected(stack: LocalStack, repo: DynamoRepository,
                                                          seller: Seller) -> None:
    status, created = _call(stack, "POST", "/stores", "/stores", seller.tenant_id, body={
        "channel": "email", "display_name": "Support mailbox", "store_id": "support",
        "linked_store_ids": [seller.store_id], "default_language": "de"})
    assert status == 201, created
    assert created["inbound_address"] == f"{seller.tenant_id}+support@inbound.example.com"
    stored = repo.get_store(seller.tenant_id, "support")
    assert stored is not None and stored.linked_store_ids == [seller.store_id] and stored.secret_name is None

    status, listed = _call(stack, "GET", "/stores", "/stores", seller.tenant_id)
    assert status == 200 and {s["store"]["store_id"] for s in listed} == {"support", seller.store_id}
    status, others = _call(stack, "GET", "/stores", "/stores", "another-tenant")
    assert status == 200 and others == []

    status, missing = _call(stack, "DELETE", "/stores/support", "/stores/{store_id}", "another-tenant",
                            params={"store_id": "support"})
    assert status == 404 and missing["error"]["code"] == "not_found"
    status, gone = _call(stack, "DELETE", "/stores/support", "/stores/{store_id}", seller.tenant_id,
                         params={"store_id": "support"})
    assert status == 200 and gone["status"] == "disconnected"


def test_bad_requests_say_why(stack: LocalStack, seller: Seller) -> None:
    status, body = _call(stack, "POST", "/stores", "/stores", seller.tenant_id,
                         body={"channel": "carrier-pigeon", "display_name": "x"})
    assert status == 422 and body["error"]["code"] == "validation_error"
    status, body = _call(stack, "POST", "/stores", "/stores", seller.tenant_id,
                         body={"channel": "mirakl", "display_name": "MP", "credentials": {"api_key": "k"}})
    assert status == 400 and "base_url" in body["error"]["message"]


def test_tenant_poll_schedule_is_created_once(stack: LocalStack) -> None:
    client = stack.client("scheduler")
    scheduler = EventBridgePollScheduler(client, "arn:aws:lambda:eu-west-1:123456789012:function:poller",
                                         "arn:aws:iam::123456789012:role/poll", rate_minutes=2)
    scheduler.ensure_tenant_schedule("t-sched")
    scheduler.ensure_tenant_schedule("t-sched")
    schedule = client.get_schedule(Name="helpdesk-poll-t-sched")
    assert schedule["ScheduleExpression"] == "rate(2 minutes)"
    assert json.loads(schedule["Target"]["Input"]) == {"tenant_id": "t-sched"}

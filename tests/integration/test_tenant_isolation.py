"""Every route of the agent API and the seller setup API, called with another tenant's admin token
(same agent id, so nothing can key on the agent alone), reads and changes nothing of the first
tenant's: a path naming one of its records is 404 (existence does not leak), a list holds none of
its records, a write lands in the caller's own tenant. The routes are taken from the code (OpenAPI
of each resolver): a new route without a case here fails the test."""

from __future__ import annotations

import importlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import Agent, AgentRole, Channel, Message, MessageDirection, Ticket
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event

OTHER = "tenant-isolation-intruder"
AGENT = "agent-2"  # exists in both tenants
LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()

# (method, path) → request body for the intruder; None: no body. Every route must be listed.
CASES: dict[tuple[str, str], Any] = {
    # agent API
    ("GET", "/tickets"): None,
    ("GET", "/tickets/{ticket_id}"): None,
    ("PATCH", "/tickets/{ticket_id}"): {"priority": "urgent", "tags_add": ["pwned"]},
    ("POST", "/tickets/bulk"): {"ticket_ids": ["{ticket_id}"], "action": {"priority": "urgent"}},
    ("POST", "/tickets/{ticket_id}/snooze"): {"until": LATER},
    ("POST", "/tickets/{ticket_id}/merge"): {"source_ticket_id": "{other_ticket_id}"},
    ("POST", "/tickets/{ticket_id}/messages/{message_id}/split"): None,
    ("POST", "/tickets/{ticket_id}/notes"): {"body": "hello @agent-2"},
    ("GET", "/tickets/{ticket_id}/presence"): None,
    ("POST", "/tickets/{ticket_id}/presence"): {"typing": True},
    ("POST", "/tickets/{ticket_id}/replies"): {"body": "hello", "force": True},
    ("POST", "/tickets/{ticket_id}/replies/{message_id}/retry"): None,
    ("POST", "/tickets/{ticket_id}/replies/translation"): {"body": "Your parcel is on its way"},
    ("POST", "/tickets/{ticket_id}/draft"): {},
    ("DELETE", "/tickets/{ticket_id}/draft"): None,
    ("GET", "/tickets/{ticket_id}/macros/{macro_id}/preview"): None,
    ("GET", "/views"): None,
    ("POST", "/views"): {"name": "intruder's view"},
    ("GET", "/views/counts"): None,
    ("GET", "/views/{view_id}"): None,
    ("PUT", "/views/{view_id}"): {"name": "renamed"},
    ("DELETE", "/views/{view_id}"): None,
    ("GET", "/views/{view_id}/tickets"): None,
    ("GET", "/me/notifications"): None,
    ("POST", "/me/notifications/{notification_id}/read"): None,
    ("GET", "/macros"): None,
    ("GET", "/reports"): None,
    ("GET", "/reports/backlog"): None,
    ("GET", "/reports/breaches"): None,
    ("POST", "/macros"): {"macro_id": "intruder", "name": "x", "bodies": {"en": "x"}},
    ("GET", "/macros/{macro_id}"): None,
    ("PUT", "/macros/{macro_id}"): {"name": "x", "bodies": {"en": "x"}},
    ("DELETE", "/macros/{macro_id}"): None,
    # seller setup API
    ("GET", "/rules"): None,
    ("PUT", "/rules"): [],
    ("POST", "/rules/dry-run"): {"channel": "email", "body": "Bitte stornieren"},
    ("GET", "/sla-policies"): None,
    ("PUT", "/sla-policies"): [],
    ("GET", "/agents"): None,
    ("PUT", "/agents"): [],
    ("GET", "/teams"): None,
    ("PUT", "/teams"): [],
    ("GET", "/aging-steps"): None,
    ("PUT", "/aging-steps"): [{"step_id": "s1", "after_minutes": 60, "action": "escalate"}],
    ("GET", "/nudges"): None,
    ("PUT", "/nudges"): [],
    ("GET", "/policy-snippets"): None,
    ("PUT", "/policy-snippets"): [],
    ("GET", "/stores"): None,
    ("POST", "/stores"): {"channel": "email", "display_name": "Intruder inbox", "store_id": "intruder-mail"},
    ("GET", "/stores/{store_id}/ingest-errors"): None,
    ("POST", "/stores/{store_id}/pause"): None,
    ("POST", "/stores/{store_id}/resume"): None,
    ("PUT", "/stores/{store_id}/credentials"): {"credentials": {"api_key": "stolen"}},
    ("PUT", "/stores/{store_id}/voice"): {"default_language": "fr", "greetings": {"fr": "Salut"}},
    ("DELETE", "/stores/{store_id}"): None,
}
FUNCTIONS = ("AgentApiFunction", "SetupApiFunction")
# Routes that need a query string to be a valid request at all.
RANGE = f"start={(datetime.now(UTC) - timedelta(days=7)).date()}&end={datetime.now(UTC).date()}"
QUERIES = {"/reports": RANGE + "&group_by=agent", "/reports/backlog": RANGE, "/reports/breaches": RANGE}


def routes(stack: LocalStack) -> list[tuple[str, str, str]]:
    found = []
    for function in FUNCTIONS:
        app = importlib.import_module(stack.functions[function].module).app
        spec = json.loads(app.get_openapi_json_schema())
        found += [(function, method.upper(), path) for path, ops in spec["paths"].items() for method in ops]
    return found


def call(
    stack: LocalStack,
    function: str,
    method: str,
    path: str,
    route: str,
    params: dict[str, str],
    tenant_id: str,
    agent_id: str = AGENT,
    role: str = "admin",
    body: Any = None,
) -> tuple[int, Any]:
    response = stack.functions[function].invoke(
        agent_event(
            method,
            path,
            route,
            tenant_id=tenant_id,
            agent_id=agent_id,
            role=role,
            params=params,
            json_body=body,
            query=QUERIES.get(route, ""),
        )
    )
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def victim(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> dict[str, str]:
    """A tenant with a ticket (buyer message, reply, note), a second ticket, a saved view, a macro
    and a notification."""
    tenant = seller.tenant_id
    now = datetime.now(UTC)
    for agent_id, role in (("agent-1", AgentRole.AGENT), (AGENT, AgentRole.ADMIN)):
        repo.put_agent(
            Agent(tenant_id=tenant, agent_id=agent_id, name=agent_id, email=f"{agent_id}@shop.example", role=role)
        )
    ids: dict[str, str] = {"store_id": seller.store_id}
    for key in ("ticket_id", "other_ticket_id"):
        ticket = Ticket(
            tenant_id=tenant,
            ticket_id=new_id(now),
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            subject="Où est ma commande ?",
            customer_email="buyer@example.fr",
            order_refs=["77"],
            first_response_due_at=now + timedelta(hours=2),
            sla_timer_version=1,
            message_count=1,
            created_at=now,
            updated_at=now,
        )
        message = Message(
            tenant_id=tenant,
            ticket_id=ticket.ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.INBOUND,
            channel=Channel.WOOCOMMERCE,
            store_id=seller.store_id,
            channel_message_id=f"cm-{ticket.ticket_id}",
            author="buyer",
            body="Où est ma commande ?",
            created_at=now,
        )
        repo.create_ticket(ticket, message)
        ids[key] = ticket.ticket_id
    ticket_path = {"ticket_id": ids["ticket_id"]}
    status, reply = call(
        stack,
        "AgentApiFunction",
        "POST",
        f"/tickets/{ids['ticket_id']}/replies",
        "/tickets/{ticket_id}/replies",
        ticket_path,
        tenant,
        agent_id="agent-1",
        body={"body": "Elle arrive.", "force": True},
    )
    assert status == 202, reply
    ids["message_id"] = reply["message_id"]
    status, _ = call(
        stack,
        "AgentApiFunction",
        "POST",
        f"/tickets/{ids['ticket_id']}/notes",
        "/tickets/{ticket_id}/notes",
        ticket_path,
        tenant,
        agent_id="agent-1",
        body={"body": "@agent-2 can you check the carrier?"},
    )
    assert status in (200, 201)
    status, view = call(
        stack,
        "AgentApiFunction",
        "POST",
        "/views",
        "/views",
        {},
        tenant,
        body={"name": "Mine", "filters": {"assignee_id": "me"}},
    )
    assert status in (200, 201), view
    ids["view_id"] = view["view_id"]
    status, macro = call(
        stack,
        "AgentApiFunction",
        "POST",
        "/macros",
        "/macros",
        {},
        tenant,
        body={"macro_id": "victim-macro", "name": "WISMO", "bodies": {"en": "Hi"}},
    )
    assert status == 201
    ids["macro_id"] = macro["macro_id"]
    for path, body in (
        ("/nudges", [{"nudge_id": "shipped", "name": "Shipped", "event": "shipped", "macro_id": "victim-macro"}]),
        ("/policy-snippets", [{"snippet_id": "returns", "title": "Returns", "text": "30 days to return, carrier?"}]),
    ):
        status, answer = call(stack, "SetupApiFunction", "PUT", path, path, {}, tenant, body=body)
        assert status == 200, answer
    status, notes = call(stack, "AgentApiFunction", "GET", "/me/notifications", "/me/notifications", {}, tenant)
    assert status == 200
    ids["notification_id"] = notes["notifications"][0]["notification_id"]
    return ids


def snapshot(stack: LocalStack, tenant: str, ids: dict[str, str]) -> dict[str, Any]:
    """Everything the victim's own agents can read, except live presence."""
    reads: dict[str, Any] = {}
    for function, path, route, params in (
        ("AgentApiFunction", f"/tickets/{ids['ticket_id']}", "/tickets/{ticket_id}", {"ticket_id": ids["ticket_id"]}),
        (
            "AgentApiFunction",
            f"/tickets/{ids['other_ticket_id']}",
            "/tickets/{ticket_id}",
            {"ticket_id": ids["other_ticket_id"]},
        ),
        ("AgentApiFunction", "/tickets", "/tickets", {}),
        ("AgentApiFunction", "/views", "/views", {}),
        ("AgentApiFunction", "/macros", "/macros", {}),
        ("AgentApiFunction", "/me/notifications", "/me/notifications", {}),
        ("SetupApiFunction", "/rules", "/rules", {}),
        ("SetupApiFunction", "/sla-policies", "/sla-policies", {}),
        ("SetupApiFunction", "/agents", "/agents", {}),
        ("SetupApiFunction", "/teams", "/teams", {}),
        ("SetupApiFunction", "/aging-steps", "/aging-steps", {}),
        ("SetupApiFunction", "/stores", "/stores", {}),
        ("SetupApiFunction", "/nudges", "/nudges", {}),
        ("SetupApiFunction", "/policy-snippets", "/policy-snippets", {}),
    ):
        status, body = call(stack, function, "GET", path, route, params, tenant)
        assert status == 200, (path, body)
        if isinstance(body, dict):
            body.pop("viewers", None)
        reads[path] = body
    return reads


def test_another_tenant_reads_and_changes_nothing_on_any_route(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, victim: dict[str, str]
) -> None:
    all_routes = routes(stack)
    listed = {(method, path) for _, method, path in all_routes}
    assert listed == set(CASES), (
        f"routes without an isolation case: {sorted(listed - set(CASES))}; "
        f"cases without a route: {sorted(set(CASES) - listed)}"
    )
    before = snapshot(stack, seller.tenant_id, victim)
    secrets = [
        victim["ticket_id"],
        victim["other_ticket_id"],
        victim["macro_id"],
        victim["view_id"],
        victim["notification_id"],
        seller.tenant_id,
        "Elle arrive",
        "carrier?",
    ]

    for function, method, path in all_routes:
        names = re.findall(r"\{(\w+)\}", path)
        params = {name: victim[name] for name in names}
        concrete = path.format(**params)
        body = CASES[(method, path)]
        if body is not None:
            body = json.loads(
                json.dumps(body)
                .replace("{ticket_id}", victim["ticket_id"])
                .replace("{other_ticket_id}", victim["other_ticket_id"])
            )
        status, answer = call(stack, function, method, concrete, path, params, OTHER, body=body)
        text = json.dumps(answer)
        asked = concrete + json.dumps(body)  # an error may echo what the caller asked for
        leaked = [s for s in secrets if s in text and s not in asked]
        assert not leaked, f"{method} {path} answered another tenant's data: {leaked}"
        if names:
            assert status == 404, f"{method} {path}: {status} {answer}"
            assert answer["error"]["code"] == "not_found"
        else:
            assert 200 <= status < 300, f"{method} {path}: {status} {answer}"
            if path == "/tickets/bulk":
                assert [r["outcome"] for r in answer["results"]] == ["not_found"]

    assert snapshot(stack, seller.tenant_id, victim) == before, "the other tenant changed something"

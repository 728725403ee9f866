"""The setup API's routing settings on moto: agents, teams and aging steps as whole lists, admin only,
the tenant from the token, every invalid entry reported at once; the aging run uses the saved steps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import Channel, Message, MessageDirection, Ticket, TicketStatus
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import agent_event

TEAMS = [
    {"team_id": "support", "name": "Support", "time_zone": "Europe/Berlin"},
    {"team_id": "marketplaces", "name": "Marketplaces", "time_zone": "Europe/Paris"},
]
AGENTS = [
    {
        "agent_id": "greta",
        "name": "Greta",
        "email": "greta@seller.example",
        "languages": ["de", "en"],
        "team_ids": ["support", "marketplaces"],
        "shift": {
            "time_zone": "Europe/Berlin",
            "periods": {
                day: [{"start": "08:00", "end": "16:30"}]
                for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
        },
    },
    {
        "agent_id": "bernd",
        "name": "Bernd",
        "email": "bernd@seller.example",
        "languages": ["de"],
        "team_ids": ["support"],
    },
]
# The caller (agent_event's agent-1) stays in every list it sends: the list decides who may call.
ME = {"agent_id": "agent-1", "name": "Ada", "email": "ada@seller.example", "role": "admin"}


def _call(
    stack: LocalStack, method: str, path: str, tenant_id: str, *, role: str = "admin", body: Any = None
) -> tuple[int, Any]:
    event = agent_event(method, path, path, tenant_id=tenant_id, role=role, json_body=body)
    response = stack.functions["SetupApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/agents", None),
        ("PUT", "/agents", AGENTS),
        ("GET", "/teams", None),
        ("PUT", "/teams", TEAMS),
        ("GET", "/aging-steps", None),
        ("PUT", "/aging-steps", []),
    ],
)
@pytest.mark.parametrize("role", ["agent", "read_only"])
def test_only_admins_see_or_change_routing_settings(
    stack: LocalStack, repo: DynamoRepository, tenant: str, method: str, path: str, body: Any, role: str
) -> None:
    status, answer = _call(stack, method, path, tenant, role=role, body=body)
    assert status == 403 and answer["error"]["code"] == "forbidden"
    assert repo.list_agents(tenant) == [] and repo.list_teams(tenant) == [] and repo.get_aging_steps(tenant) is None


def test_an_admin_replaces_and_reads_teams_and_agents_and_another_tenant_sees_its_own(
    stack: LocalStack, repo: DynamoRepository, tenant: str
) -> None:
    status, body = _call(stack, "PUT", "/agents", tenant, body=AGENTS)  # the teams do not exist yet
    assert status == 422 and body["error"]["code"] == "invalid_agents"
    assert [(e["agent_id"], e["messages"]) for e in body["error"]["details"]["errors"]] == [
        (
            "greta",
            [
                "team_ids: no team 'support' (create it under /teams first)",
                "team_ids: no team 'marketplaces' (create it under /teams first)",
            ],
        ),
        ("bernd", ["team_ids: no team 'support' (create it under /teams first)"]),
    ]

    status, teams = _call(stack, "PUT", "/teams", tenant, body=TEAMS)
    assert status == 200 and [t["team_id"] for t in teams] == ["marketplaces", "support"]
    assert all(t["tenant_id"] == tenant for t in teams)
    status, agents = _call(stack, "PUT", "/agents", tenant, body=[ME, *AGENTS])
    assert status == 200, agents
    assert [(a["agent_id"], a["languages"], a["team_ids"]) for a in agents] == [
        ("agent-1", ["en"], []),
        ("bernd", ["de"], ["support"]),
        ("greta", ["de", "en"], ["support", "marketplaces"]),
    ]

    assert _call(stack, "GET", "/teams", tenant) == (200, teams)
    assert _call(stack, "GET", "/agents", tenant) == (200, agents)
    greta = next(a for a in repo.list_agents(tenant) if a.agent_id == "greta")
    assert greta.shift is not None and greta.shift["periods"]["friday"] == [{"start": "08:00", "end": "16:30"}]

    # Whole-list replace: bernd leaves, the marketplace team can then go (greta left it too).
    greta_only = [ME, {**AGENTS[0], "team_ids": ["support"]}]
    status, _ = _call(stack, "PUT", "/teams", tenant, body=TEAMS[:1])
    assert status == 422  # greta is still in "marketplaces"
    assert _call(stack, "PUT", "/agents", tenant, body=greta_only)[0] == 200
    assert _call(stack, "PUT", "/teams", tenant, body=TEAMS[:1])[0] == 200
    assert [a.agent_id for a in repo.list_agents(tenant)] == ["agent-1", "greta"]
    assert [t.team_id for t in repo.list_teams(tenant)] == ["support"]

    other = f"t-{uuid.uuid4().hex[:10]}"
    assert _call(stack, "GET", "/agents", other) == (200, [])
    assert _call(stack, "GET", "/teams", other) == (200, [])
    status, steps = _call(stack, "GET", "/aging-steps", other)
    assert status == 200 and steps["source"] == "default"
    assert [(s["step_id"], s["after_minutes"], s["action"]) for s in steps["steps"]] == [
        ("stalled-4h", 240, "reassign"),
        ("stalled-24h", 1440, "escalate"),
    ]
    # The other tenant cannot touch the first one's agents through its own token either.
    status, body = _call(stack, "PUT", "/agents", other, body=[{**AGENTS[1], "tenant_id": tenant, "team_ids": []}])
    assert status == 422 and body["error"]["details"]["errors"][0]["messages"] == [
        "tenant_id: the agent belongs to another tenant"
    ]
    assert [a.agent_id for a in repo.list_agents(tenant)] == ["agent-1", "greta"]


def test_bad_input_says_why(stack: LocalStack, tenant: str) -> None:
    status, body = _call(stack, "PUT", "/agents", tenant, body={"agent_id": "not a list"})
    assert status == 422 and body["error"]["code"] == "validation_error"
    status, body = _call(
        stack,
        "PUT",
        "/teams",
        tenant,
        body=[{"team_id": "a b", "name": "Spaces"}, {"team_id": "x", "name": "X", "time_zone": "Nowhere"}],
    )
    assert status == 422 and body["error"]["code"] == "invalid_teams"
    assert [e["index"] for e in body["error"]["details"]["errors"]] == [0, 1]
    assert "unknown time zone 'Nowhere'" in body["error"]["details"]["errors"][1]["messages"][0]
    status, body = _call(
        stack,
        "PUT",
        "/agents",
        tenant,
        body=[
            {
                "agent_id": "z",
                "name": "Z",
                "email": "z@seller.example",
                "languages": ["klingon"],
                "shift": {"time_zone": "Europe/Berlin", "periods": {"monday": [{"start": "18:00", "end": "09:00"}]}},
            }
        ],
    )
    assert status == 422
    (error,) = body["error"]["details"]["errors"]
    assert error["messages"][0] == "languages: 'klingon' is not a language code like 'de' or 'de-AT'"
    assert error["messages"][1].startswith("shift.periods.monday.0: ")
    assert "ends before it starts" in error["messages"][1]
    status, body = _call(
        stack,
        "PUT",
        "/aging-steps",
        tenant,
        body=[{"step_id": "a", "after_minutes": 60, "action": "reassign", "team_id": "support"}],
    )
    assert status == 422 and body["error"]["code"] == "invalid_aging_steps"
    assert body["error"]["details"]["errors"] == [
        {"index": 0, "step_id": "a", "messages": ["team_id: only an escalation moves the ticket to a team"]}
    ]


def test_saved_aging_steps_are_what_the_aging_run_applies(
    stack: LocalStack, repo: DynamoRepository, tenant: str
) -> None:
    assert _call(stack, "PUT", "/teams", tenant, body=TEAMS)[0] == 200
    assert _call(stack, "PUT", "/agents", tenant, body=[ME, *({**a, "shift": None} for a in AGENTS)])[0] == 200
    status, saved = _call(
        stack,
        "PUT",
        "/aging-steps",
        tenant,
        body=[
            {"step_id": "escalate-2h", "after_minutes": 120, "action": "escalate", "team_id": "marketplaces"},
            {"step_id": "reassign-30m", "after_minutes": 30, "action": "reassign"},
        ],
    )
    assert status == 200 and saved["source"] == "tenant"
    assert [s["step_id"] for s in saved["steps"]] == ["reassign-30m", "escalate-2h"]
    assert _call(stack, "GET", "/aging-steps", tenant) == (200, saved)

    now = datetime.now(UTC)
    ticket = Ticket(
        tenant_id=tenant,
        ticket_id=new_id(now),
        store_id="s1",
        channel=Channel.MIRAKL,
        subject="Wo ist mein Paket?",
        status=TicketStatus.OPEN,
        language="de",
        team_id="support",
        assignee_id="greta",
        first_response_due_at=now + timedelta(hours=20),
        last_agent_action_at=now - timedelta(minutes=45),
        message_count=1,
        created_at=now,
        updated_at=now,
    )
    repo.create_ticket(
        ticket,
        Message(
            tenant_id=tenant,
            ticket_id=ticket.ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.INBOUND,
            channel=Channel.MIRAKL,
            store_id="s1",
            channel_message_id="a-1",
            author="buyer",
            body="Wo?",
            created_at=now,
        ),
    )

    result = stack.functions["AgingFunction"].invoke({"tenant_id": tenant})  # 45 min idle: the 4 h default waits
    assert result[tenant]["reassigned"] == [[ticket.ticket_id, "greta", "bernd"]]
    view = repo.get_ticket_view(tenant, ticket.ticket_id)
    assert view is not None
    assert [m.body.split(":")[0] for m in view.messages if m.direction == MessageDirection.EVENT] == [
        "Aging (reassign-30m)"
    ]

    assert _call(stack, "PUT", "/aging-steps", tenant, body=[]) == (200, {"steps": [], "source": "tenant"})
    stale = repo.get_ticket(tenant, ticket.ticket_id)
    assert stale is not None
    old = stale.model_copy(update={"last_agent_action_at": now - timedelta(days=3)})
    repo.update_ticket(stale, old)
    assert stack.functions["AgingFunction"].invoke({"tenant_id": tenant})[tenant]["examined"] == 0  # aging off


def test_the_agent_list_decides_who_may_call_the_apis(stack: LocalStack, tenant: str) -> None:
    def queue(agent_id: str, role: str = "agent") -> tuple[int, Any]:
        event = agent_event("GET", "/tickets", "/tickets", tenant_id=tenant, agent_id=agent_id, role=role)
        response = stack.functions["AgentApiFunction"].invoke(event)
        return response["statusCode"], json.loads(response["body"])

    assert _call(stack, "PUT", "/teams", tenant, body=TEAMS)[0] == 200
    status, body = _call(stack, "PUT", "/agents", tenant, body=AGENTS)  # leaves the caller out
    assert status == 422 and "keep you ('agent-1') as an active admin" in body["error"]["message"]
    agents = [ME, {**AGENTS[0], "shift": None}, {**AGENTS[1], "active": False}]
    assert _call(stack, "PUT", "/agents", tenant, body=agents)[0] == 200

    # Tokens still valid for an hour: bernd was deactivated, zed was never on the list.
    assert queue("greta")[0] == 200
    status, body = queue("bernd")
    assert status == 403 and body["error"]["message"] == "this agent has been deactivated"
    status, body = queue("zed", role="admin")
    assert status == 403 and body["error"]["message"] == "this agent is not in the tenant's agent list"
    # A token still saying admin for someone the list makes an agent: no admin route.
    event = agent_event("GET", "/agents", "/agents", tenant_id=tenant, agent_id="greta", role="admin")
    response = stack.functions["SetupApiFunction"].invoke(event)
    assert response["statusCode"] == 403 and json.loads(response["body"])["error"]["message"] == "this needs an admin"

"""RoutingAdmin's agents, teams and aging steps: whole lists, every problem reported at once, the
tenant from the caller; and the aging run using the steps a tenant saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.models import Agent, Team, TicketStatus
from helpdesk.routing.admin import AgentsInvalid, AgingStepsInvalid, PoliciesInvalid, RoutingAdmin, TeamsInvalid
from helpdesk.routing.aging import DEFAULT_STEPS, AgingService, AgingStep
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, TENANT, make_ticket

SHIFT = {"time_zone": "Europe/Berlin", "periods": {"monday": [{"start": "09:00", "end": "17:00"}]}}


@pytest.fixture
def admin(repo: InMemoryRepository) -> RoutingAdmin:
    repo.replace_teams(
        TENANT,
        [
            Team(tenant_id=TENANT, team_id="support", name="Support", time_zone="Europe/Berlin"),
            Team(tenant_id=TENANT, team_id="marketplaces", name="Marketplaces"),
        ],
    )
    return RoutingAdmin(repo, clock=lambda: NOW)


def agent(agent_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "name": agent_id.title(),
        "email": f"{agent_id}@seller.example",
        "languages": ["de"],
        "team_ids": ["support"],
        **fields,
    }


def errors_of(caught: pytest.ExceptionInfo) -> list[dict[str, Any]]:
    return caught.value.details["errors"]


# --- agents ---------------------------------------------------------------------------------------


def test_agents_are_replaced_whole_normalised_and_keep_their_round_robin_bookkeeping(
    admin: RoutingAdmin, repo: InMemoryRepository
) -> None:
    assigned = datetime(2024, 2, 29, 8, 0, tzinfo=UTC)
    repo.agents = [
        Agent(
            tenant_id=TENANT, agent_id="greta", name="Greta", email="greta@seller.example", last_assigned_at=assigned
        ),
        Agent(tenant_id=TENANT, agent_id="gone", name="Gone", email="gone@seller.example"),
        Agent(tenant_id="other", agent_id="theirs", name="T", email="t@other.example"),
    ]

    saved = admin.replace_agents(
        TENANT,
        [
            agent("greta", languages=["DE_at", "en", "en"], shift=SHIFT, last_assigned_at="2030-01-01T00:00:00Z"),
            agent("bernd", tenant_id=TENANT, team_ids=["support", "marketplaces"], role="admin", active=False),
        ],
    )

    assert [a.agent_id for a in saved] == ["bernd", "greta"]
    greta = next(a for a in saved if a.agent_id == "greta")
    assert greta.languages == ["de-at", "en"]
    assert greta.shift == {
        "time_zone": "Europe/Berlin",
        "periods": {"monday": [{"start": "09:00", "end": "17:00"}]},
        "holidays": [],
        "always_open": False,
    }
    assert greta.last_assigned_at == assigned  # the product's bookkeeping, not the admin's
    assert admin.agents(TENANT) == saved
    assert [a.agent_id for a in repo.list_agents("other")] == ["theirs"]


@pytest.mark.parametrize("mine", [None, {"active": False, "role": "admin"}, {"role": "agent"}])
def test_an_admin_cannot_send_a_list_that_locks_themselves_out(
    admin: RoutingAdmin, repo: InMemoryRepository, mine: dict[str, Any] | None
) -> None:
    others = [agent("greta")]
    sent = others if mine is None else [*others, agent("ada", **mine)]
    with pytest.raises(AgentsInvalid, match="keep you \\('ada'\\) as an active admin"):
        admin.replace_agents(TENANT, sent, caller_id="ada")
    assert repo.list_agents(TENANT) == []
    saved = admin.replace_agents(TENANT, [*others, agent("ada", role="admin")], caller_id="ada")
    assert [a.agent_id for a in saved] == ["ada", "greta"]
    assert admin.replace_agents(TENANT, [], caller_id="ada") == []  # back to a tenant being set up


def test_every_bad_agent_is_reported_at_once_and_nothing_is_saved(
    admin: RoutingAdmin, repo: InMemoryRepository
) -> None:
    with pytest.raises(AgentsInvalid) as caught:
        admin.replace_agents(
            TENANT,
            [
                agent("ok"),
                agent("lang", languages=["german", "de"]),
                agent("noteam", team_ids=["sales"]),
                agent("shift", shift={"time_zone": "Mars/Olympus_Mons", "periods": {}}),
                agent("ok", email="other@seller.example"),
                agent("same-mail", email="OK@seller.example"),
                agent("none", languages=[]),
                agent("intruder", tenant_id="another-tenant"),
                "not an object",
                {"agent_id": "bad id!", "name": "x", "email": "not-an-email"},
            ],
        )
    assert caught.value.status == 422 and caught.value.code == "invalid_agents"
    by_index = {e["index"]: e for e in errors_of(caught)}
    assert sorted(by_index) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert by_index[1]["messages"] == ["languages: 'german' is not a language code like 'de' or 'de-AT'"]
    assert by_index[2]["messages"] == ["team_ids: no team 'sales' (create it under /teams first)"]
    assert by_index[3]["agent_id"] == "shift" and "unknown time zone 'Mars/Olympus_Mons'" in by_index[3]["messages"][0]
    assert by_index[3]["messages"][0].startswith("shift.time_zone: ")
    assert by_index[4]["messages"] == ["agent_id: 'ok' is also used by agent 0"]
    assert by_index[5]["messages"] == ["email: also the e-mail of agent 'ok'"]
    assert by_index[6]["messages"] == ["languages: give at least one language the agent answers in"]
    assert by_index[7]["messages"] == ["tenant_id: the agent belongs to another tenant"]
    assert by_index[8]["messages"] == ["each agent must be a JSON object, got str"]
    assert {m.split(":")[0] for m in by_index[9]["messages"]} == {"agent_id", "email"}
    assert repo.list_agents(TENANT) == []


def test_agents_must_be_a_list_of_bounded_length(admin: RoutingAdmin) -> None:
    with pytest.raises(AgentsInvalid, match="at most 500"):
        admin.replace_agents(TENANT, {"agent_id": "x"})  # type: ignore[arg-type]


# --- teams ----------------------------------------------------------------------------------------


def test_teams_are_replaced_whole_with_their_time_zones_checked(admin: RoutingAdmin, repo: InMemoryRepository) -> None:
    saved = admin.replace_teams(
        TENANT,
        [
            {"team_id": "support", "name": "Support DE", "time_zone": "Europe/Berlin"},
            {"team_id": "fr", "name": "Support FR", "time_zone": "Europe/Paris"},
        ],
    )
    assert [(t.team_id, t.name) for t in saved] == [("fr", "Support FR"), ("support", "Support DE")]
    assert admin.teams(TENANT) == saved  # "marketplaces" was dropped
    with pytest.raises(TeamsInvalid) as caught:
        admin.replace_teams(
            TENANT,
            [
                {"team_id": "x", "name": "X", "time_zone": "Europe/Atlantis"},
                {"team_id": "x", "name": "Again"},
                {"name": "no id"},
            ],
        )
    assert [(e["index"], e["messages"]) for e in errors_of(caught)] == [
        (0, ["time_zone: unknown time zone 'Europe/Atlantis': use an IANA name such as 'Europe/Berlin'"]),
        (1, ["team_id: 'x' is also used by team 0"]),
        (2, ["team_id: Field required"]),
    ]


def test_a_team_still_in_use_is_not_dropped(admin: RoutingAdmin, repo: InMemoryRepository) -> None:
    admin.replace_agents(TENANT, [agent("greta", team_ids=["marketplaces"]), agent("bernd")])
    admin.replace_aging_steps(
        TENANT, [{"step_id": "esc", "after_minutes": 60, "action": "escalate", "team_id": "marketplaces"}]
    )
    with pytest.raises(TeamsInvalid) as caught:
        admin.replace_teams(TENANT, [{"team_id": "support", "name": "Support"}])
    assert errors_of(caught) == [
        {"team_id": "marketplaces", "messages": ["still used by agent greta, aging step esc: change those first"]}
    ]
    assert {t.team_id for t in repo.list_teams(TENANT)} == {"support", "marketplaces"}


# --- aging steps ----------------------------------------------------------------------------------


def test_aging_steps_default_until_the_tenant_saves_its_own(admin: RoutingAdmin, repo: InMemoryRepository) -> None:
    assert admin.aging_steps(TENANT).model_dump() == {
        "steps": [s.model_dump() for s in DEFAULT_STEPS],
        "source": "default",
    }
    saved = admin.replace_aging_steps(
        TENANT,
        [
            {"step_id": "escalate-8h", "after_minutes": 480, "action": "escalate", "team_id": "marketplaces"},
            {"step_id": "reassign-1h", "after_minutes": 60, "action": "reassign"},
        ],
    )
    assert saved.source == "tenant"
    assert [(s.step_id, s.after_minutes) for s in saved.steps] == [("reassign-1h", 60), ("escalate-8h", 480)]
    assert admin.aging_steps(TENANT) == saved
    assert admin.replace_aging_steps(TENANT, []).steps == []  # aging off
    assert admin.aging_steps(TENANT).model_dump() == {"steps": [], "source": "tenant"}
    assert admin.aging_steps("other").source == "default"


def test_bad_aging_steps_are_reported_at_once(admin: RoutingAdmin, repo: InMemoryRepository) -> None:
    with pytest.raises(AgingStepsInvalid) as caught:
        admin.replace_aging_steps(
            TENANT,
            [
                {"step_id": "a", "after_minutes": 60, "action": "reassign"},
                {"step_id": "b", "after_minutes": 60, "action": "escalate"},
                {"step_id": "c", "after_minutes": 120, "action": "reassign", "team_id": "support"},
                {"step_id": "d", "after_minutes": 240, "action": "escalate", "team_id": "sales"},
                {"step_id": "e", "after_minutes": 0, "action": "snooze"},
            ],
        )
    assert [(e["step_id"], e["messages"]) for e in errors_of(caught)] == [
        ("b", ["after_minutes: step 'a' already waits 60 minutes"]),
        ("c", ["team_id: only an escalation moves the ticket to a team"]),
        ("d", ["team_id: no team 'sales' (create it under /teams first)"]),
        ("e", ["after_minutes: Input should be greater than 0", "action: Input should be 'reassign' or 'escalate'"]),
    ]
    assert repo.get_aging_steps(TENANT) is None
    with pytest.raises(AgingStepsInvalid, match="at most 10"):
        admin.replace_aging_steps(
            TENANT, [{"step_id": f"s{i}", "after_minutes": i + 1, "action": "escalate"} for i in range(11)]
        )


def test_the_aging_run_applies_the_tenants_own_steps(repo: InMemoryRepository) -> None:
    repo.agents = [
        Agent(tenant_id=TENANT, agent_id=a, name=a, email=f"{a}@seller.example", languages=["de"], team_ids=["support"])
        for a in ("greta", "bernd")
    ]
    ticket = make_ticket(
        assignee_id="greta",
        team_id="support",
        language="de",
        status=TicketStatus.OPEN,
        last_agent_action_at=NOW - timedelta(minutes=45),
    )
    repo.set_ticket(ticket)
    run = AgingService(repo, clock=lambda: NOW).run
    assert run(TENANT).reassigned == []  # the default first step waits 4 h
    repo.put_aging_steps(TENANT, [AgingStep(step_id="fast", after_minutes=30, action="reassign")])
    assert run(TENANT).reassigned == [(ticket.ticket_id, "greta", "bernd")]

    repo.put_aging_steps(TENANT, [])  # the tenant turned aging off: no queue is even read
    repo.calls.clear()
    report = run(TENANT)
    assert (report.examined, report.reassigned) == (0, [])
    assert "list_queue" not in repo.call_names()


def test_policies_report_their_ids_with_their_problems(admin: RoutingAdmin) -> None:
    with pytest.raises(PoliciesInvalid) as caught:
        admin.replace_policies(
            TENANT, [{"policy_id": "p", "name": "P", "first_response_minutes": 0, "next_response_minutes": 60}]
        )
    assert errors_of(caught) == [
        {"index": 0, "policy_id": "p", "messages": ["first_response_minutes: Input should be greater than 0"]}
    ]

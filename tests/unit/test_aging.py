"""Aging rules: an assignee idle for 4 h loses the ticket to a colleague who can take it; at 24 h the
ticket is escalated; every step is written on the timeline and taken once."""

from __future__ import annotations

from datetime import timedelta

from helpdesk.core.models import Agent, MessageDirection, Priority, TicketStatus
from helpdesk.routing.aging import AgingService, AgingStep
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, TENANT, make_ticket


def agent(agent_id: str, languages: list[str], **extra) -> Agent:
    return Agent(
        tenant_id=TENANT,
        agent_id=agent_id,
        name=agent_id,
        email=f"{agent_id}@seller.example",
        languages=languages,
        team_ids=["support"],
        **extra,
    )


def stalled(repo: InMemoryRepository, hours: float, **extra):
    fields = dict(
        assignee_id="greta",
        team_id="support",
        language="de",
        status=TicketStatus.OPEN,
        last_agent_action_at=NOW - timedelta(hours=hours),
    )
    ticket = make_ticket(**{**fields, **extra})
    repo.set_ticket(ticket)
    return ticket


def service(repo: InMemoryRepository, hours_later: float = 0) -> AgingService:
    return AgingService(repo, clock=lambda: NOW + timedelta(hours=hours_later))


def events(repo: InMemoryRepository, ticket_id: str) -> list[str]:
    return [m.body for m in repo.messages[(TENANT, ticket_id)] if m.direction == MessageDirection.EVENT]


def test_an_idle_assignee_loses_the_ticket_to_an_eligible_colleague(repo: InMemoryRepository) -> None:
    repo.agents = [
        agent("greta", ["de"]),
        agent("claire", ["fr"]),
        agent("bernd", ["de", "en"]),
        agent("off", ["de"], shift={"time_zone": "UTC", "periods": {"sunday": [{"start": "00:00", "end": "00:01"}]}}),
    ]
    ticket = stalled(repo, hours=5)
    report = service(repo).run(TENANT)
    assert report.reassigned == [(ticket.ticket_id, "greta", "bernd")]  # not French, not off shift
    moved = repo.tickets[(TENANT, ticket.ticket_id)]
    assert moved.assignee_id == "bernd" and moved.last_agent_action_at == NOW and moved.aging_level == 1
    (text,) = events(repo, ticket.ticket_id)
    assert "reassigned from greta to bernd" in text and "5 h 00 min" in text
    assert service(repo).run(TENANT).reassigned == []  # taken once


def test_a_recent_action_is_left_alone(repo: InMemoryRepository) -> None:
    repo.agents = [agent("greta", ["de"]), agent("bernd", ["de"])]
    ticket = stalled(repo, hours=3)
    assert service(repo).run(TENANT).examined == 1
    assert repo.tickets[(TENANT, ticket.ticket_id)].assignee_id == "greta"


def test_twenty_four_idle_hours_after_the_reassignment_escalate(repo: InMemoryRepository) -> None:
    repo.agents = [agent("greta", ["de"]), agent("bernd", ["de"])]
    ticket = stalled(repo, hours=5)
    service(repo).run(TENANT)
    report = service(repo, hours_later=25).run(
        TENANT,
        [
            AgingStep(step_id="stalled-4h", after_minutes=240, action="reassign"),
            AgingStep(step_id="stalled-24h", after_minutes=1440, action="escalate", team_id="leads"),
        ],
    )
    assert report.escalated == [ticket.ticket_id]
    final = repo.tickets[(TENANT, ticket.ticket_id)]
    assert final.priority == Priority.URGENT and "escalated" in final.tags and final.team_id == "leads"
    assert "escalated" in events(repo, ticket.ticket_id)[-1]


def test_nobody_eligible_keeps_the_ticket_and_says_so(repo: InMemoryRepository) -> None:
    repo.agents = [agent("greta", ["de"]), agent("claire", ["fr"])]
    ticket = stalled(repo, hours=6)
    report = service(repo).run(TENANT)
    assert report.stuck == [ticket.ticket_id] and report.reassigned == []
    held = repo.tickets[(TENANT, ticket.ticket_id)]
    assert held.assignee_id == "greta" and held.aging_level == 0 and "awaiting-reassignment" in held.tags
    assert "first who comes on shift" in events(repo, ticket.ticket_id)[0]

    again = service(repo).run(TENANT)  # still nobody: no new event, the step still due
    assert again.stuck == [ticket.ticket_id] and len(events(repo, ticket.ticket_id)) == 1

    repo.agents.append(agent("bernd", ["de"]))  # a German speaker comes on shift
    later = service(repo).run(TENANT)
    assert later.reassigned == [(ticket.ticket_id, "greta", "bernd")]
    moved = repo.tickets[(TENANT, ticket.ticket_id)]
    assert moved.assignee_id == "bernd" and "awaiting-reassignment" not in moved.tags and moved.aging_level == 1


def test_resolved_or_unassigned_tickets_do_not_age(repo: InMemoryRepository) -> None:
    repo.agents = [agent("greta", ["de"]), agent("bernd", ["de"])]
    done = stalled(repo, hours=9, status=TicketStatus.RESOLVED)
    free = make_ticket(
        ticket_id="01HQ0000000000000000000001", status=TicketStatus.OPEN, last_agent_action_at=NOW - timedelta(hours=9)
    )
    repo.set_ticket(free)
    report = service(repo).run(TENANT)
    assert report.reassigned == [] and report.escalated == []
    assert repo.tickets[(TENANT, done.ticket_id)].assignee_id == "greta"

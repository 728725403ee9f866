"""Issue 4's seed scenario on moto, through the real workflow: a German cancellation arriving on a
Mirakl marketplace runs the intake state machine (Lambda tasks in-process, the SLA timer started by
a Step Functions service integration) and comes out tagged, urgent, on the short SLA, assigned to a
German speaker on shift — at the top of the queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from helpdesk.adapters.aws import SqsEnvelopePublisher
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Agent, Channel, InboundMessage, IngestEnvelope, Intent, Priority, Store, Tenant
from helpdesk.routing.rule_schema import RoutingRule
from helpdesk.sla.policies import SlaPolicySpec
from infrastructure.local.stack import LocalStack
from tests.conftest import eventually
from tests.integration.conftest import drain_ingest_queue


def _seed(repo: DynamoRepository, tenant: str) -> None:
    now = datetime.now(UTC)
    repo.put_tenant(Tenant(tenant_id=tenant, name="Seller", time_zone="Europe/Berlin", created_at=now))
    repo.put_store(
        Store(
            tenant_id=tenant,
            store_id="mirakl-de",
            channel=Channel.MIRAKL,
            display_name="MP DE",
            base_url="https://mp.example",
            created_at=now,
        )
    )
    repo.put_policy_spec(
        tenant,
        SlaPolicySpec(policy_id="standard", name="24h", first_response_minutes=24 * 60, next_response_minutes=24 * 60),
    )
    repo.put_policy_spec(
        tenant,
        SlaPolicySpec(
            policy_id="cancellation-2h",
            name="Cancellations",
            first_response_minutes=120,
            next_response_minutes=120,
            intents=[Intent.CANCELLATION],
        ),
    )
    repo.put_rule(
        RoutingRule.model_validate(
            {
                "tenant_id": tenant,
                "rule_id": "cancel",
                "name": "Cancellations to the marketplace team",
                "conditions": [{"field": "intent", "op": "eq", "value": "cancellation"}],
                "actions": [
                    {"type": "set_priority", "value": "urgent"},
                    {"type": "assign_round_robin", "value": "marketplaces"},
                ],
            }
        )
    )
    for agent_id, languages, shift in (
        ("claire", ["fr"], None),
        ("dieter", ["de"], {"always_open": False}),
        ("greta", ["de", "en"], None),
    ):
        agent = Agent(
            tenant_id=tenant,
            agent_id=agent_id,
            name=agent_id.title(),
            email=f"{agent_id}@seller.example",
            languages=languages,
            team_ids=["marketplaces"],
        )
        if shift is not None:  # dieter is off shift: his working hours are Sundays 00:00-00:01 only
            agent.shift = {"time_zone": "Europe/Berlin", "periods": {"sunday": [{"start": "00:00", "end": "00:01"}]}}
        repo.put_agent(agent)


def _message(tenant: str, n: int, body: str, minutes_ago: int) -> InboundMessage:
    return InboundMessage(
        tenant_id=tenant,
        store_id="mirakl-de",
        channel=Channel.MIRAKL,
        channel_message_id=f"m-{n}",
        channel_thread_id=f"th-{n}",
        order_ref=f"MP{n}-A",
        buyer_name="Lukas",
        body=body,
        language="de",
        received_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


def test_german_cancellation_on_a_marketplace_is_routed_by_the_intake_workflow(
    stack: LocalStack, repo: DynamoRepository
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _seed(repo, tenant)
    drain_ingest_queue(stack)
    publisher = SqsEnvelopePublisher(stack.client("sqs"), stack.resolver.refs["InboundQueue"])
    publisher.publish(
        IngestEnvelope(
            tenant_id=tenant,
            store_id="mirakl-de",
            channel=Channel.MIRAKL,
            delivery_id="poll-1",
            raw_s3_key="raw/x",
            messages=[
                _message(tenant, 1, "Wo bleibt mein Paket? Keine Sendungsverfolgung.", minutes_ago=60),
                _message(tenant, 2, "Bitte stornieren Sie meine Bestellung, ich habe doppelt bestellt.", minutes_ago=1),
            ],
        )
    )
    assert drain_ingest_queue(stack) == 1

    def routed() -> list:
        page = repo.list_queue(tenant, "tenant", None, 10, None)
        tickets = page.tickets
        return tickets if len(tickets) == 2 and all(t.intent is not None for t in tickets) else []

    def settled() -> list:
        tickets = repo.list_queue(tenant, "tenant", None, 10, None).tickets
        failed = [t.intake_error for t in tickets if t.intake_error]
        assert not failed, failed
        return routed()

    first, second = eventually(settled, "both tickets routed")
    assert first.order_refs == ["MP2-A"]  # the cancellation, though it arrived last, is first in the queue
    assert first.intent == Intent.CANCELLATION and "cancellation" in first.tags
    assert first.priority == Priority.URGENT and first.sla_policy_id == "cancellation-2h"
    assert (first.team_id, first.assignee_id) == ("marketplaces", "greta")
    assert first.first_response_due_at is not None
    assert abs((first.first_response_due_at - first.created_at) - timedelta(minutes=119)) < timedelta(minutes=2)
    assert second.intent == Intent.WISMO and second.sla_policy_id == "standard" and second.assignee_id is None
    assert first.sla_timer_version == 2  # re-armed for the new deadline ...
    executions = stack.client("stepfunctions").list_executions(
        stateMachineArn=stack.state_machines["SlaTimerStateMachine"]
    )["executions"]
    assert any(e["name"].endswith(f"{first.ticket_id}-v2") for e in executions)  # ... by the workflow
    mine = repo.list_queue(tenant, "agent", "greta", 10, None)
    assert [t.ticket_id for t in mine.tickets] == [first.ticket_id]
    view = repo.get_ticket_view(tenant, first.ticket_id)
    assert view is not None
    (event,) = [m for m in view.messages if m.direction.value == "event"]
    assert event.body.startswith("Routed: Intent cancellation") and "assigned to greta" in event.body
    assert "SLA cancellation-2h" in event.body and first.last_agent_action_at is not None


def test_a_failing_intake_leaves_the_ticket_in_the_queue_and_says_why(
    stack: LocalStack, repo: DynamoRepository
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _seed(repo, tenant)
    broken = Agent(
        tenant_id=tenant,
        agent_id="zed",
        name="Zed",
        email="zed@seller.example",
        languages=["de"],
        team_ids=["marketplaces"],
        shift={"time_zone": "Mars/Olympus_Mons"},
    )  # not a calendar
    repo.put_agent(broken)
    drain_ingest_queue(stack)
    SqsEnvelopePublisher(stack.client("sqs"), stack.resolver.refs["InboundQueue"]).publish(
        IngestEnvelope(
            tenant_id=tenant,
            store_id="mirakl-de",
            channel=Channel.MIRAKL,
            delivery_id="poll-2",
            raw_s3_key="raw/y",
            messages=[_message(tenant, 3, "Bitte stornieren!", minutes_ago=0)],
        )
    )
    drain_ingest_queue(stack)

    def recorded() -> list:
        return [t for t in repo.list_queue(tenant, "tenant", None, 10, None).tickets if t.intake_error]

    (ticket,) = eventually(recorded, "the intake error recorded")
    assert "Mars/Olympus_Mons" in ticket.intake_error or "time zone" in ticket.intake_error.lower()
    assert ticket.first_response_due_at is not None  # still queued with the deadline tickets.threads gave it
    assert ticket.intent is None


def test_the_customers_language_is_detected_among_the_tenants_languages(
    stack: LocalStack, repo: DynamoRepository
) -> None:
    """A French buyer on a store whose channel says nothing about the language: the ticket is French
    (routing and macros follow it) and the timeline says it was detected, with what confidence."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _seed(repo, tenant)
    profile = repo.get_tenant(tenant)
    assert profile is not None
    repo.put_tenant(profile.model_copy(update={"languages": ["en", "fr", "de"]}))
    drain_ingest_queue(stack)
    french = _message(
        tenant, 7, "Bonjour, ma commande n'est toujours pas arrivée. Pouvez-vous vérifier ?", minutes_ago=0
    ).model_copy(update={"language": None})
    SqsEnvelopePublisher(stack.client("sqs"), stack.resolver.refs["InboundQueue"]).publish(
        IngestEnvelope(
            tenant_id=tenant,
            store_id="mirakl-de",
            channel=Channel.MIRAKL,
            delivery_id="poll-fr",
            raw_s3_key="raw/fr",
            messages=[french],
        )
    )
    drain_ingest_queue(stack)

    def decided() -> list:
        tickets = repo.list_queue(tenant, "tenant", None, 10, None).tickets
        return tickets if tickets and tickets[0].intent is not None else []

    (ticket,) = eventually(decided, "the intake decision")
    assert ticket.language == "fr" and ticket.intent == Intent.WISMO
    view = repo.get_ticket_view(tenant, ticket.ticket_id)
    assert view is not None
    (event,) = [m.body for m in view.messages if m.direction.value == "event"]
    assert "language fr (detected " in event

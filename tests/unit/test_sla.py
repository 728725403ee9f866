"""sla/timers.py: deadlines, the timer a ticket needs, and the timestamp format Step Functions reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpdesk.core.models import ID_PATTERN, TicketStatus
from helpdesk.sla import timers as sla_timers
from helpdesk.sla.timers import FIRST_RESPONSE, NEXT_RESPONSE, TimerRequest, first_response_due, iso_z, timer_request
from tests.unit.builders import NOW, make_policy, make_ticket

FIRST_DUE = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
NEXT_DUE = datetime(2024, 3, 3, 8, 30, tzinfo=UTC)
ULID = "01HQ0000000000000000000000"


def test_default_target_is_24_hours_for_both_deadlines() -> None:
    assert sla_timers.DEFAULT_TARGET.first_response_minutes == 24 * 60
    assert sla_timers.DEFAULT_TARGET.next_response_minutes == 24 * 60
    assert first_response_due(NOW, None) == NOW + timedelta(hours=24)


def test_a_policy_sets_the_first_response_deadline() -> None:
    assert first_response_due(NOW, make_policy(first=45)) == NOW + timedelta(minutes=45)


@pytest.mark.parametrize("status", [TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING])
def test_an_unanswered_ticket_in_the_queue_needs_a_first_response_timer(status: TicketStatus) -> None:
    request = timer_request(make_ticket(status=status, first_response_due_at=FIRST_DUE, sla_timer_version=3))
    # Created 2024-03-01 12:00, due 24 h later: the warning point is at 80 % of that, 07:12 next day.
    assert request == TimerRequest(
        tenant_id="t1",
        ticket_id=ULID,
        deadline=FIRST_RESPONSE,
        due_at="2024-03-02T12:00:00Z",
        timer_version="3",
        warn_at="2024-03-02T07:12:00Z",
    )


def test_the_warning_point_is_the_policys_when_intake_set_one_and_absent_once_warned() -> None:
    from datetime import timedelta

    policy_point = FIRST_DUE - timedelta(hours=1)
    ticket = make_ticket(status=TicketStatus.OPEN, first_response_due_at=FIRST_DUE, sla_warn_at=policy_point)
    request = timer_request(ticket)
    assert request is not None and request.warn_at == "2024-03-02T11:00:00Z"
    warned = timer_request(ticket.model_copy(update={"sla_warned_at": policy_point}))
    assert warned is not None and warned.warn_at is None
    late = timer_request(ticket.model_copy(update={"sla_warn_at": FIRST_DUE + timedelta(minutes=1)}))
    assert late is not None and late.warn_at is None  # a point after the deadline is no warning


def test_an_answered_ticket_needs_a_next_response_timer_on_the_next_deadline() -> None:
    ticket = make_ticket(
        status=TicketStatus.OPEN,
        first_response_due_at=FIRST_DUE,
        first_responded_at=NOW,
        next_response_due_at=NEXT_DUE,
        sla_timer_version=2,
    )
    request = timer_request(ticket)
    assert request is not None
    assert request.deadline == NEXT_RESPONSE
    assert request.due_at == "2024-03-03T08:30:00Z"
    assert request.timer_version == "2"


@pytest.mark.parametrize("status", [TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.WAITING_ON_CUSTOMER])
def test_tickets_out_of_the_queue_need_no_timer(status: TicketStatus) -> None:
    assert timer_request(make_ticket(status=status, first_response_due_at=FIRST_DUE)) is None


def test_a_breached_ticket_needs_no_timer() -> None:
    assert timer_request(make_ticket(first_response_due_at=FIRST_DUE, sla_breached_at=FIRST_DUE)) is None


def test_no_deadline_no_timer() -> None:
    assert timer_request(make_ticket(first_response_due_at=None)) is None
    answered = make_ticket(first_response_due_at=FIRST_DUE, first_responded_at=NOW, next_response_due_at=None)
    assert timer_request(answered) is None


def test_iso_z_formats_whole_seconds_in_utc() -> None:
    assert iso_z(datetime(2024, 3, 1, 12, 0, 5, 999_999, tzinfo=UTC)) == "2024-03-01T12:00:05Z"
    plus_two = timezone(timedelta(hours=2))
    assert iso_z(datetime(2024, 1, 1, 1, 30, tzinfo=plus_two)) == "2023-12-31T23:30:00Z"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", iso_z(NOW))


def test_iso_z_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_z(datetime(2024, 3, 1, 12, 0))


def test_execution_name_names_ticket_and_version() -> None:
    request = TimerRequest(
        tenant_id="acme", ticket_id=ULID, deadline=FIRST_RESPONSE, due_at="2024-03-02T12:00:00Z", timer_version="4"
    )
    name = request.execution_name
    assert name.endswith(f"-{ULID}-v4") and name.startswith("t")
    same_tenant = TimerRequest(
        tenant_id="acme", ticket_id=ULID, deadline=FIRST_RESPONSE, due_at="2024-03-02T12:00:00Z", timer_version="4"
    )
    other_tenant = same_tenant.model_copy(update={"tenant_id": "acme2"})
    assert same_tenant.execution_name == name != other_tenant.execution_name


def test_execution_name_is_at_most_80_characters() -> None:
    request = TimerRequest(
        tenant_id="t" * 128,
        ticket_id=ULID,
        deadline=FIRST_RESPONSE,
        due_at="2024-03-02T12:00:00Z",
        timer_version="12345",
    )
    assert len(request.execution_name) <= 80


def test_execution_names_differ_per_version_for_every_valid_tenant_id() -> None:
    tenant_id = "tenant-" + "x" * 53  # 60 chars, matches ID_PATTERN
    assert re.fullmatch(ID_PATTERN, tenant_id)
    names = {
        TimerRequest(
            tenant_id=tenant_id,
            ticket_id=ULID,
            deadline=FIRST_RESPONSE,
            due_at="2024-03-02T12:00:00Z",
            timer_version=str(v),
        ).execution_name
        for v in (1, 2)
    }
    assert len(names) == 2


def test_execution_name_uses_only_characters_step_functions_accepts() -> None:
    tenant_id = "acme:eu"
    assert re.fullmatch(ID_PATTERN, tenant_id)
    name = TimerRequest(
        tenant_id=tenant_id, ticket_id=ULID, deadline=FIRST_RESPONSE, due_at="2024-03-02T12:00:00Z", timer_version="1"
    ).execution_name
    forbidden = set(' <>{}[]?*"#%\\^|~`$&,;:/')
    assert not forbidden & set(name)

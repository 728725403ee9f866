"""Issue 4's "an unanswered ticket is warned then breached at the right business-hours time", through
the whole workflow on moto: the ingest consumer stores a buyer message that arrived on a Friday at
17:30 in Berlin, the intake state machine (Lambda tasks in-process) picks the seller's business-hours
policy and re-arms the SLA timer, and the SLA timer state machine records the warning and the breach
on the ticket and emits their events — at the business-hours instants, on the following working day.

moto's Wait state sleeps in wall-clock time, so the SLA timer executions of the test's tenant run on
a simulated clock (``EngineClock``) that the test moves forward: a Wait ends when the test advances
the clock to its timestamp, and ``$$.State.EnteredTime`` (what the timer records) reads that clock.
Every other execution in the shared moto server keeps the real clock."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from helpdesk.adapters.aws import SqsEnvelopePublisher
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, InboundMessage, IngestEnvelope, Store, Tenant, Ticket
from helpdesk.sla.calendars import BusinessCalendar
from helpdesk.sla.policies import SlaPolicySpec
from infrastructure.local.stack import LocalStack
from tests.conftest import eventually
from tests.integration.conftest import drain_ingest_queue

BERLIN = ZoneInfo("Europe/Berlin")
T = TypeVar("T")


class EngineClock:
    """Simulated time for the moto Step Functions executions whose name starts with ``prefix``.

    Such an execution's clock stands still at ``now`` (so ``$$.State.EnteredTime`` is exact) and its
    Wait(TimestampPath) states end when ``advance_to`` reaches their timestamp, without sleeping.
    Installed with pytest's monkeypatch on moto's engine classes (the moto server runs in this
    process), so it is undone after the test."""

    def __init__(self, start: datetime, prefix: str) -> None:
        self.now = start.astimezone(UTC)
        self._prefix = prefix
        self._changed = threading.Condition()
        self._local = threading.local()  # each execution runs in its own engine thread

    def owns(self, env: Any) -> bool:
        name = env.states.context_object.context_object_data["Execution"]["Name"]
        return name.startswith(self._prefix)

    def advance_to(self, moment: datetime) -> None:
        with self._changed:
            assert moment >= self.now, "time only moves forward"
            self.now = moment.astimezone(UTC)
            self._changed.notify_all()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        clock = self
        eval_body = CommonStateField._eval_body

        def remember_env(state: Any, env: Any) -> None:
            clock._local.env = env
            return eval_body(state, env)

        class EngineDatetime(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                env = getattr(clock._local, "env", None)
                if env is None or not clock.owns(env):
                    return datetime.now(tz)
                return clock.now.astimezone(tz) if tz else clock.now.replace(tzinfo=None)

        class EngineDatetimeModule:
            datetime = EngineDatetime

            def __getattr__(self, name: str) -> Any:
                import datetime as real

                return getattr(real, name)

        seconds_until = Timestamp._get_wait_seconds
        wait_interval = WaitFunction._wait_interval

        def simulated_wait_seconds(function: Any, env: Any) -> int:
            if not clock.owns(env):
                return seconds_until(function, env)
            function.string.eval(env=env)
            text = env.stack.pop()
            target = function._from_timestamp_string(text)
            if target is None:
                raise FailureEventException(function._create_failure_event(env, text))
            clock._local.target = target.replace(tzinfo=UTC)
            return max(0, int((clock._local.target - clock.now).total_seconds()))

        def simulated_wait_interval(function: Any, env: Any, wait_seconds: int) -> None:
            if not clock.owns(env):
                return wait_interval(function, env=env, wait_seconds=wait_seconds)
            with clock._changed:
                while env.is_running() and clock.now < clock._local.target:
                    clock._changed.wait(0.2)

        monkeypatch.setattr(CommonStateField, "_eval_body", remember_env)
        monkeypatch.setattr(state_module, "datetime", EngineDatetimeModule())
        monkeypatch.setattr(Timestamp, "_get_wait_seconds", simulated_wait_seconds)
        monkeypatch.setattr(WaitFunction, "_wait_interval", simulated_wait_interval)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


WEEKDAYS_9_TO_18 = {
    day: [{"start": "09:00", "end": "18:00"}] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}

SCENARIOS = {
    # CET on Friday, CEST on Monday (the clocks went forward on Sunday 30 March 2025): 30 business
    # minutes on Friday, 30 on Monday; the warning at 80 % = 48 business minutes, Monday 09:18.
    "friday-evening-over-the-dst-weekend": (
        _berlin("2025-03-28T17:30"),
        [],
        _utc("2025-03-31T07:18:00"),
        _utc("2025-03-31T07:30:00"),
        ["Mon 09:18 CEST", "Mon 09:30 CEST"],
    ),
    # Whit Monday is a holiday in the calendar: the remaining 30 minutes fall on Tuesday.
    "friday-evening-before-a-holiday-monday": (
        _berlin("2025-06-06T17:30"),
        [date(2025, 6, 9)],
        _utc("2025-06-10T07:18:00"),
        _utc("2025-06-10T07:30:00"),
        ["Tue 09:18 CEST", "Tue 09:30 CEST"],
    ),
}


@pytest.fixture
def tenant(repo: DynamoRepository) -> str:
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"
    repo.put_tenant(Tenant(tenant_id=tenant_id, name="Seller", time_zone="Europe/Berlin", created_at=datetime.now(UTC)))
    repo.put_store(
        Store(
            tenant_id=tenant_id,
            store_id="mirakl-de",
            channel=Channel.MIRAKL,
            display_name="MP DE",
            base_url="https://mp.example",
            created_at=datetime.now(UTC),
        )
    )
    return tenant_id


@pytest.fixture
def engine_clock(stack: LocalStack, tenant: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineClock]:
    # SLA timer executions are named t<sha256(tenant)[:8]>-<ticket>-v<version> (sla.TimerRequest).
    prefix = f"t{hashlib.sha256(tenant.encode()).hexdigest()[:8]}-"
    clock = EngineClock(datetime(2000, 1, 1, tzinfo=UTC), prefix)
    clock.install(monkeypatch)
    yield clock
    sfn = stack.client("stepfunctions")  # nothing of this test's keeps waiting on the old clock
    for execution in sfn.list_executions(
        stateMachineArn=stack.state_machines["SlaTimerStateMachine"], statusFilter="RUNNING"
    )["executions"]:
        if execution["name"].startswith(prefix):
            sfn.stop_execution(executionArn=execution["executionArn"])


def _timer_executions(stack: LocalStack, ticket_id: str) -> dict[str, dict]:
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.state_machines["SlaTimerStateMachine"])["executions"]
    return {e["name"].rsplit("-", 1)[1]: e for e in executions if f"-{ticket_id}-v" in e["name"]}


def _waiting_in(stack: LocalStack, execution_arn: str) -> str | None:
    """The Wait state the execution is in, or None when it is elsewhere or finished."""
    events = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    entered = [e for e in events if e["type"].endswith("StateEntered") or e["type"].endswith("StateExited")]
    last = entered[-1] if entered else None
    if last and last["type"] == "WaitStateEntered":
        return last["stateEnteredEventDetails"]["name"]
    return None


def _sla_events(stack: LocalStack, ticket_id: str, expected: int) -> list[dict]:
    """This ticket's events on the SLA events queue (other tests' timers share it: theirs stay)."""
    sqs = stack.client("sqs")
    url = stack.resolver.refs["SlaEventsQueue"]
    found: list[dict] = []
    deadline = time.monotonic() + 10
    while len(found) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            if body["ticket_id"] == ticket_id:
                found.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.1)
    return found


@pytest.mark.parametrize(
    ("arrival", "holidays", "warn_at", "due_at", "local"), list(SCENARIOS.values()), ids=list(SCENARIOS)
)
def test_an_unanswered_friday_evening_ticket_is_warned_then_breached_in_business_hours(
    stack: LocalStack,
    repo: DynamoRepository,
    tenant: str,
    engine_clock: EngineClock,
    arrival: datetime,
    holidays: list[date],
    warn_at: datetime,
    due_at: datetime,
    local: list[str],
) -> None:
    calendar = BusinessCalendar.model_validate(
        {"time_zone": "Europe/Berlin", "periods": WEEKDAYS_9_TO_18, "holidays": holidays}
    )
    repo.put_policy_spec(
        tenant,
        SlaPolicySpec(
            policy_id="business",
            name="Business hours",
            calendar=calendar,
            first_response_minutes=60,
            next_response_minutes=120,
        ),
    )
    engine_clock.advance_to(arrival)  # the buyer writes on Friday at 17:30, Berlin time
    drain_ingest_queue(stack)
    SqsEnvelopePublisher(stack.client("sqs"), stack.resolver.refs["InboundQueue"]).publish(
        IngestEnvelope(
            tenant_id=tenant,
            store_id="mirakl-de",
            channel=Channel.MIRAKL,
            delivery_id="poll-1",
            raw_s3_key="raw/f",
            messages=[
                InboundMessage(
                    tenant_id=tenant,
                    store_id="mirakl-de",
                    channel=Channel.MIRAKL,
                    channel_message_id="m-1",
                    channel_thread_id="th-1",
                    order_ref="MP1-A",
                    buyer_name="Lukas",
                    language="de",
                    received_at=arrival,
                    body="Wo bleibt mein Paket? Die Sendungsverfolgung zeigt nichts an.",
                )
            ],
        )
    )
    assert drain_ingest_queue(stack) == 1

    def decided() -> Ticket | None:
        tickets = repo.list_queue(tenant, "tenant", None, 10, None).tickets
        assert not [t.intake_error for t in tickets if t.intake_error]
        return tickets[0] if tickets and tickets[0].sla_policy_id == "business" else None

    ticket = eventually(decided, "the intake workflow's decision")
    # The intake put the business-hours deadline and its warning point on the ticket ...
    assert (ticket.first_response_due_at, ticket.sla_due_at, ticket.sla_warn_at) == (due_at, due_at, warn_at)
    # The deadline was already set when the message was stored (the tenant's only policy for the
    # channel), so the intake agreed and did not re-arm: one timer, version 1.
    assert ticket.sla_timer_version == 1 and ticket.sla_warned_at is None and ticket.sla_breached_at is None
    assert [moment.astimezone(BERLIN).strftime("%a %H:%M %Z") for moment in (warn_at, due_at)] == local
    view = repo.get_ticket_view(tenant, ticket.ticket_id)
    assert view is not None
    (routed,) = [m.body for m in view.messages if m.direction.value == "event"]
    assert f"SLA business (selected), due {due_at.isoformat()}" in routed

    # ... and one timer waits for the warning point (no second, superseded timer to pay for).
    executions = eventually(
        lambda: (found := _timer_executions(stack, ticket.ticket_id)).keys() == {"v1"} and found, "the timer"
    )
    timer = executions["v1"]["executionArn"]
    eventually(lambda: _waiting_in(stack, timer) == "WaitUntilWarning", "the timer waiting for the warning")

    # One second before the warning point nothing is recorded.
    engine_clock.advance_to(warn_at - timedelta(seconds=1))
    stale = stack.client("stepfunctions")
    time.sleep(1)
    assert _waiting_in(stack, timer) == "WaitUntilWarning"
    current = repo.get_ticket(tenant, ticket.ticket_id)
    assert current is not None and current.sla_warned_at is None and current.sla_breached_at is None

    engine_clock.advance_to(warn_at)
    warned = eventually(
        lambda: (t := repo.get_ticket(tenant, ticket.ticket_id)) and t.sla_warned_at and t, "the warning"
    )
    assert warned.sla_warned_at == warn_at and warned.sla_breached_at is None
    eventually(lambda: _waiting_in(stack, timer) == "WaitUntilDue", "the timer waiting for the due time")

    engine_clock.advance_to(due_at - timedelta(seconds=1))
    assert _waiting_in(stack, timer) == "WaitUntilDue"
    assert repo.get_ticket(tenant, ticket.ticket_id).sla_breached_at is None  # type: ignore[union-attr]

    engine_clock.advance_to(due_at)
    eventually(lambda: stale.describe_execution(executionArn=timer)["status"] != "RUNNING", "the breach")
    assert stale.describe_execution(executionArn=timer)["status"] == "SUCCEEDED"
    breached = repo.get_ticket(tenant, ticket.ticket_id)
    assert breached is not None
    assert (breached.sla_warned_at, breached.sla_breached_at) == (warn_at, due_at)
    assert breached.first_responded_at is None and breached.sla_timer_version == 1

    events = _sla_events(stack, ticket.ticket_id, expected=2)
    common = {
        "tenant_id": tenant,
        "ticket_id": ticket.ticket_id,
        "deadline": "first_response",
        "due_at": due_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timer_version": "1",
    }
    assert sorted(events, key=lambda e: e["recorded_at"]) == [
        {"type": "sla.warning", **common, "recorded_at": warn_at.isoformat()},
        {"type": "sla.breached", **common, "recorded_at": due_at.isoformat()},
    ]

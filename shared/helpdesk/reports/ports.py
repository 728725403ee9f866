"""The interfaces the reports services depend on; adapters (``helpdesk.adapters``) and the tests' fakes
(``tests/fakes``) implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from helpdesk.core.models import (
    Message,
    Store,
    Tenant,
    Ticket,
    TicketView,
)

if TYPE_CHECKING:
    from helpdesk.reports.aggregates import (
        BreachPage,
        DailyStats,
        Increment,
    )


class SurveyRepository(Protocol):
    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None: ...

    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...


class ReportReader(Protocol):
    def daily(self, tenant_id: str, dimension: str, start: date, end: date) -> Sequence[DailyStats]: ...

    def current_open(self, tenant_id: str) -> int: ...

    def breaches(self, tenant_id: str, start: date, end: date, limit: int, cursor: str | None) -> BreachPage: ...


class TenantReader(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


class ReportSink(Protocol):
    def apply(self, increments: Sequence[Increment], batch_id: str) -> object:
        """Add the increments once per ``batch_id`` (a redelivered stream batch adds nothing)."""
        ...

    def record_breach(self, tenant_id: str, day: date, ticket: Ticket) -> None: ...


class EventsRepository(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...

    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...


class Surveys(Protocol):
    def request(self, tenant_id: str, ticket_id: str) -> str: ...

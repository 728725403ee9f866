"""The service-delivery manager's reports (agent API, admin role): read the daily aggregates the
ticket-events consumer maintains (``helpdesk.reports.aggregates``) — a bounded number of items whatever the
ticket volume: one per day and dimension value in the range — and shape them by period and dimension,
as JSON or CSV. Days are the tenant's (its time zone), as the aggregates were written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from pydantic import Field

from helpdesk.core.clock import utc_now
from helpdesk.core.models import Model
from helpdesk.reports.aggregates import (
    BreachPage,
    ReportQuery,
    ReportRow,
    backlog_series,
    build_report,
    local_day,
    to_csv,
)
from helpdesk.reports.ports import ReportReader, TenantReader


class BacklogPoint(Model):
    day: date
    open_tickets: int = Field(description="Tickets owing an answer (new, open, pending) at the end of the day")


class Backlog(Model):
    time_zone: str
    points: list[BacklogPoint]


class ReportDownload(Model):
    """A report as a file to download: its name and CSV text."""

    filename: str
    body: str
    content_type: str = "text/csv; charset=utf-8"


class ReportService:
    def __init__(self, store: ReportReader, tenants: TenantReader, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._tenants = tenants
        self._clock = clock

    def report(self, tenant_id: str, query: ReportQuery) -> list[ReportRow]:
        return build_report(query, self._store.daily(tenant_id, query.group_by, query.start, query.end))

    def report_csv(self, tenant_id: str, query: ReportQuery) -> ReportDownload:
        """The same rows as ``report`` as a CSV download named after the query."""
        rows = self.report(tenant_id, query)
        name = f"report-{query.group_by}-{query.period}-{query.start}-{query.end}.csv"
        return ReportDownload(filename=name, body=to_csv(rows))

    def backlog(self, tenant_id: str, start: date, end: date) -> Backlog:
        query = ReportQuery(start=start, end=end)  # the same range checks
        zone = self._zone(tenant_id)
        today = local_day(self._clock(), zone)
        later = max(today, query.end)
        net: dict[date, int] = {}
        for stats in self._store.daily(tenant_id, "all", query.start, later):
            net[stats.day] = (
                net.get(stats.day, 0) + int(stats.counters.get("opened", 0)) - int(stats.counters.get("closed", 0))
            )
        points = backlog_series(self._store.current_open(tenant_id), net, query.start, query.end)
        return Backlog(time_zone=zone, points=[BacklogPoint(day=d, open_tickets=n) for d, n in points])

    def breaches(self, tenant_id: str, start: date, end: date, limit: int, cursor: str | None) -> BreachPage:
        ReportQuery(start=start, end=end)
        return self._store.breaches(tenant_id, start, end, limit, cursor)

    def _zone(self, tenant_id: str) -> str:
        tenant = self._tenants.get_tenant(tenant_id)
        return tenant.time_zone if tenant else "UTC"

"""Service-level reports for admins: per period and dimension (JSON or CSV), the backlog, the breaches."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from helpdesk.api.access import caller
from helpdesk.api.agent.common import Cursor, Limit
from helpdesk.platform import wiring
from helpdesk.reports.aggregates import BreachPage, Dimension, Period, ReportQuery, ReportRow
from helpdesk.reports.queries import Backlog

router = Router()


Day = Annotated[date, Query(description="A day in the tenant's time zone (YYYY-MM-DD)")]


@router.get(
    "/reports",
    responses={
        200: {
            "description": "One row per period and dimension value (JSON), or CSV",
            "content": {"application/json": {"model": list[ReportRow]}, "text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def get_report(
    start: Day,
    end: Day,
    period: Annotated[Period, Query(description="day, week (ISO), month or total")] = "day",
    group_by: Annotated[
        Dimension, Query(description="all, policy, store, channel, team, agent, intent or language")
    ] = "all",
    format: Annotated[Literal["json", "csv"], Query(description="csv: a download")] = "json",
) -> Response[Any]:
    """First, next response and resolution times (median, p90, mean), SLA compliance, breaches,
    volumes, backlog change, WISMO share and CSAT — per day, ISO week, month or the whole range, for
    the tenant or per policy, store, channel, team, agent, intent or language (days in the tenant's
    time zone). Admin only. Reads one stored item per day and dimension value, whatever the volume."""
    me = caller(router).require_admin()
    try:
        query = ReportQuery(start=start, end=end, period=period, group_by=group_by)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if format == "csv":
        download = wiring.report_service().report_csv(me.tenant_id, query)
        return Response(
            status_code=200,
            content_type=download.content_type,
            body=download.body,
            headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
        )
    rows = wiring.report_service().report(me.tenant_id, query)
    return Response(
        status_code=200, content_type="application/json", body=json.dumps([r.model_dump(mode="json") for r in rows])
    )


@router.get("/reports/backlog")
def get_backlog(start: Day, end: Day) -> Backlog:
    """Tickets owing an answer at the end of each day of the range (admin only)."""
    me = caller(router).require_admin()
    return wiring.report_service().backlog(me.tenant_id, start, end)


@router.get("/reports/breaches")
def get_breaches(start: Day, end: Day, limit: Limit = 25, cursor: Cursor = None) -> BreachPage:
    """SLA breaches in the range, newest first: ticket, store, channel, policy, agent, the deadline missed."""
    me = caller(router).require_admin()
    return wiring.report_service().breaches(me.tenant_id, start, end, limit, cursor)

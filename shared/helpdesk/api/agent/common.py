"""What the agent API's routers share besides the caller (``helpdesk.api.access.caller``): the paging
parameters and the OpenAPI shapes of answers other than 200."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

Limit = Annotated[int, Query(ge=1, le=100, description="Tickets per page")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]


def created(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """OpenAPI for a route answering 201 (the default documented answer is 200)."""
    return {201: {"description": description, "content": {"application/json": {"model": model}}}}


def accepted(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """OpenAPI for a route answering 202: accepted, the work continues asynchronously."""
    return {202: {"description": description, "content": {"application/json": {"model": model}}}}

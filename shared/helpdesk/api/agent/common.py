"""What the agent API's routers share: who is calling, the paging parameters, and the OpenAPI shapes of
answers other than 200."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from helpdesk.api import access
from helpdesk.api.identity import Identity, identity_from_event

Limit = Annotated[int, Query(ge=1, le=100, description="Tickets per page")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]


def caller(router: Router) -> Identity:
    """Who is calling, from the claims API Gateway's JWT authorizer verified, confirmed against the
    tenant's agent list (a deactivated or removed agent is refused before the token expires)."""
    return access.agent_directory().confirm(identity_from_event(router.current_event.raw_event))


def created(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """OpenAPI for a route answering 201 (the default documented answer is 200)."""
    return {201: {"description": description, "content": {"application/json": {"model": model}}}}


def accepted(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """OpenAPI for a route answering 202: accepted, the work continues asynchronously."""
    return {202: {"description": description, "content": {"application/json": {"model": model}}}}

"""The agent API's contract: the committed OpenAPI document is what the code generates, every
operation is documented and needs the agent token, and the gateway forwards every route."""

from __future__ import annotations

import json
import re

from infrastructure import openapi
from infrastructure.local.http import Route
from infrastructure.local.template import http_routes, load_template

SPEC = openapi.generate()


def test_the_committed_spec_matches_the_code() -> None:
    committed = openapi.SPEC_PATH.read_text()
    assert committed == openapi.render(SPEC), "docs/openapi.json is out of date: run `make openapi`"


def operations() -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, methods in SPEC["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_is_described_and_secured() -> None:
    assert SPEC["openapi"].startswith("3.")
    assert SPEC["security"] == [{"agentJwt": []}]
    assert SPEC["components"]["securitySchemes"]["agentJwt"]["scheme"] == "bearer"
    for method, path, operation in operations():
        assert operation.get("description") or operation.get("summary"), f"{method} {path} has no description"
        assert "security" not in operation or operation["security"], f"{method} {path} drops the token"


def test_the_gateway_forwards_every_route_to_the_agent_api() -> None:
    routes = [
        Route(r["method"], r["path"], lambda event: None, r["jwt"])
        for r in http_routes(load_template())
        if r["function"] == "AgentApiFunction"
    ]
    for method, path, _ in operations():
        concrete = re.sub(r"\{(\w+)\}", r"x-\1", path)
        forwarded = [r for r in routes if r.method in (method, "ANY") and r.regex.match(concrete)]
        assert forwarded, f"{method} {path} is not routed to the agent API by template.yaml"
        assert all(r.jwt for r in forwarded), f"{method} {path} must keep the JWT authorizer"


def test_validation_errors_are_documented_as_422() -> None:
    with_body = [(m, p, o) for m, p, o in operations() if "requestBody" in o]
    assert with_body
    for method, path, operation in with_body:
        assert "422" in operation["responses"], f"{method} {path}"
    assert json.dumps(SPEC)  # serialisable as committed

"""infrastructure/local/http.py: requests become API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from infrastructure.local import tokens
from infrastructure.local.http import LocalHttpApi, Route, build_event, shape_response

KEY = b"local-http-key"


def event_for(
    method: str = "GET",
    path: str = "/tickets/T1",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    route_path: str = "/tickets/{ticket_id}",
    params: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return build_event(
        method, path, query, headers or {}, body, route_path, {"ticket_id": "T1"} if params is None else params, claims
    )


# --- build_event --------------------------------------------------------------------------------


def test_the_event_is_payload_format_2() -> None:
    event = event_for(headers={"host": "localhost:3000", "user-agent": "pytest"})
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /tickets/{ticket_id}"
    assert event["rawPath"] == "/tickets/T1"
    assert event["rawQueryString"] == ""
    assert event["pathParameters"] == {"ticket_id": "T1"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event and "queryStringParameters" not in event
    context = event["requestContext"]
    assert context["routeKey"] == "GET /tickets/{ticket_id}"
    assert context["stage"] == "$default"
    assert context["http"]["method"] == "GET" and context["http"]["path"] == "/tickets/T1"
    assert context["http"]["userAgent"] == "pytest"
    assert context["domainName"] == "localhost:3000"
    assert isinstance(context["timeEpoch"], int) and context["requestId"]
    assert "authorizer" not in context


def test_repeated_query_keys_are_joined_with_commas() -> None:
    event = event_for(
        path="/tickets", route_path="/tickets", params={}, query="status=open&status=pending&limit=10&empty=&q=a%20b"
    )
    assert event["queryStringParameters"] == {"status": "open,pending", "limit": "10", "empty": "", "q": "a b"}
    assert event["rawQueryString"] == "status=open&status=pending&limit=10&empty=&q=a%20b"
    assert "pathParameters" not in event


def test_jwt_claims_sit_under_the_authorizer_as_strings() -> None:
    claims = {"sub": "agent-7", "custom:tenant_id": "t1", "custom:role": "admin", "exp": 1700003600}
    event = event_for(claims=claims)
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["jwt"]["claims"] == {
        "sub": "agent-7",
        "custom:tenant_id": "t1",
        "custom:role": "admin",
        "exp": "1700003600",
    }
    assert authorizer["jwt"]["scopes"] is None


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"],
)
def test_text_bodies_are_passed_as_text(content_type: str) -> None:
    body = json.dumps({"note": "héllo"}).encode()
    event = event_for(method="POST", headers={"content-type": content_type}, body=body)
    assert event["isBase64Encoded"] is False
    assert event["body"] == body.decode()


@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/png", ""])
def test_binary_bodies_are_base64_encoded(content_type: str) -> None:
    body = bytes(range(256))
    event = event_for(method="POST", headers={"content-type": content_type}, body=body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


# --- shape_response -----------------------------------------------------------------------------


def test_a_proxy_result_is_shaped_into_status_headers_and_body() -> None:
    status, headers, body = shape_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Count": 3},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": '{"ok":true}',
        }
    )
    assert status == 201
    assert headers == {"Content-Type": "application/json", "X-Count": "3", "Set-Cookie": "a=1,b=2"}
    assert body == b'{"ok":true}'


def test_a_base64_result_is_decoded() -> None:
    payload = b"\x89PNG\r\n\x1a\n\x00"
    status, _, body = shape_response(
        {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(payload).decode()}
    )
    assert (status, body) == (200, payload)


def test_a_result_without_body_has_an_empty_body() -> None:
    assert shape_response({"statusCode": 204}) == (204, {}, b"")


@pytest.mark.parametrize("result", [{"tickets": [], "next": None}, ["a", 1], "plain", None])
def test_a_plain_result_is_json_with_status_200(result: Any) -> None:
    status, headers, body = shape_response(result)
    assert status == 200
    assert headers == {"content-type": "application/json"}
    assert json.loads(body) == result


# --- LocalHttpApi -------------------------------------------------------------------------------


class Recorder:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.result


@pytest.fixture
def webhook() -> Recorder:
    return Recorder({"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": '{"status":"ok"}'})


@pytest.fixture
def agent_api() -> Recorder:
    return Recorder({"statusCode": 200, "body": "{}"})


@pytest.fixture
def api(webhook: Recorder, agent_api: Recorder) -> LocalHttpApi:
    return LocalHttpApi(
        [
            Route("POST", "/webhooks/{tenant_id}/{channel}/{store_id}", webhook, jwt=False),
            Route("GET", "/tickets", agent_api, jwt=True),
            Route("GET", "/tickets/{ticket_id}", agent_api, jwt=True),
        ],
        KEY,
    )


def bearer(key: bytes = KEY, **kwargs: Any) -> dict[str, str]:
    return {"authorization": "Bearer " + tokens.issue(key, tenant_id="t1", agent_id="agent-7", **kwargs)}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("DELETE", "/tickets"), ("GET", "/tickets/a/b"), ("GET", "/webhooks/t1/woocommerce/s1")],
)
def test_unknown_routes_are_404(
    api: LocalHttpApi, agent_api: Recorder, webhook: Recorder, method: str, path: str
) -> None:
    status, _, body = api.handle(method, path, "", bearer(), b"")
    assert status == 404 and json.loads(body) == {"message": "Not Found"}
    assert agent_api.events == [] and webhook.events == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Bearer " + tokens.issue(b"other-key", tenant_id="t1", agent_id="a")},
        {"authorization": "Bearer " + tokens.issue(KEY, tenant_id="t1", agent_id="a", ttl_seconds=1, now=1000.0)},
    ],
    ids=["no-token", "garbage", "wrong-key", "expired"],
)
def test_jwt_routes_answer_401_without_a_valid_token(
    api: LocalHttpApi, agent_api: Recorder, headers: dict[str, str]
) -> None:
    status, _, body = api.handle("GET", "/tickets", "", headers, b"")
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    assert agent_api.events == []


def test_a_valid_token_reaches_the_function_with_its_claims(api: LocalHttpApi, agent_api: Recorder) -> None:
    status, _, body = api.handle("GET", "/tickets/01HQ", "limit=5", bearer(), b"")
    assert (status, body) == (200, b"{}")
    event = agent_api.events[0]
    assert event["routeKey"] == "GET /tickets/{ticket_id}"
    assert event["pathParameters"] == {"ticket_id": "01HQ"}
    assert event["queryStringParameters"] == {"limit": "5"}
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "agent-7" and claims["custom:tenant_id"] == "t1"


def test_public_routes_need_no_token(api: LocalHttpApi, webhook: Recorder) -> None:
    body = b'{"id": 727}'
    status, headers, answer = api.handle(
        "POST", "/webhooks/t1/woocommerce/s1", "", {"content-type": "application/json"}, body
    )
    assert (status, answer) == (202, b'{"status":"ok"}')
    assert headers == {"Content-Type": "application/json"}
    event = webhook.events[0]
    assert event["pathParameters"] == {"tenant_id": "t1", "channel": "woocommerce", "store_id": "s1"}
    assert event["body"] == '{"id": 727}' and event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


def test_path_parameters_do_not_span_slashes_or_match_prefixes(api: LocalHttpApi, webhook: Recorder) -> None:
    assert api.handle("POST", "/webhooks/t1/woocommerce", "", {}, b"")[0] == 404
    assert api.handle("POST", "/webhooks/t1/woocommerce/s1/extra", "", {}, b"")[0] == 404
    assert api.handle("POST", "/prefix/webhooks/t1/woocommerce/s1", "", {}, b"")[0] == 404
    assert webhook.events == []


def test_the_asgi_app_serves_a_request_end_to_end(api: LocalHttpApi, webhook: Recorder) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/t1/woocommerce/s1",
        "query_string": b"a=1&a=2",
        "headers": [(b"Content-Type", b"application/json"), (b"X-Tag", b"one"), (b"x-tag", b"two")],
    }
    incoming = [
        {"type": "http.request", "body": b'{"id":', "more_body": True},
        {"type": "http.request", "body": b" 727}", "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(api(scope, receive, send))

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 202
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": b'{"status":"ok"}'}
    event = webhook.events[0]
    assert event["body"] == '{"id": 727}'  # chunks joined
    assert event["headers"]["x-tag"] == "one,two"  # header names lower-cased, repeats joined
    assert event["queryStringParameters"] == {"a": "1,2"}

"""The HTTP routes of template.yaml served locally as one ASGI app (under uvicorn).

Each request becomes the API Gateway HTTP API (payload 2.0) event the deployed function receives,
including what the JWT authorizer adds, and goes to the function's own ``lambda_handler``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from infrastructure.local import tokens

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


class Route:
    def __init__(self, method: str, path: str, invoke: Callable[[dict[str, Any]], Any], jwt: bool) -> None:
        self.method = method
        self.path = path
        self.invoke = invoke
        self.jwt = jwt
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))  # greedy {proxy+}
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        self.regex = re.compile(f"^{pattern}$")


class LocalHttpApi:
    def __init__(self, routes: list[Route], jwt_key: bytes) -> None:
        self.routes = routes
        self.jwt_key = jwt_key

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {}
        for key, value in scope.get("headers", []):
            name = key.decode("latin-1").lower()
            headers[name] = f"{headers[name]},{value.decode('latin-1')}" if name in headers else value.decode("latin-1")
        status, response_headers, response_body = await asyncio.to_thread(
            self.handle, scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), str(v).encode()) for k, v in response_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": response_body})

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request → (status, headers, body), as API Gateway would answer it."""
        route, params = self._match(method, path)
        if route is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        claims = None
        if route.jwt:
            token = headers.get("authorization", "").removeprefix("Bearer ").strip()
            try:
                claims = tokens.verify(self.jwt_key, token)
            except tokens.InvalidToken:
                return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
        event = build_event(method, path, query, headers, body, route.path, params, claims)
        result = route.invoke(event)
        return shape_response(result)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            if route.method in (method, "ANY"):
                match = route.regex.match(path)
                if match:
                    return route, match.groupdict()
        return None, {}


def build_event(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    route_path: str,
    params: dict[str, str],
    claims: dict[str, Any] | None,
) -> dict[str, Any]:
    content_type = headers.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    query_params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": headers.get("host", "127.0.0.1"),
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{method} {route_path}",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": {k: str(v) for k, v in claims.items()}, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route_path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": not is_text,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode()
    return event


def shape_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Lambda's answer → HTTP, with HTTP API's rules for payload 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        import json

        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers[k] = ",".join(str(v) for v in values)
    return int(result["statusCode"]), headers, raw

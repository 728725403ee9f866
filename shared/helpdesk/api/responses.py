"""One JSON shape for every HTTP answer: errors are ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

import json
from typing import Any

from helpdesk.core.errors import HelpdeskError


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), default=str),
    }


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **({"details": details} if details else {})}}


def error_response(exc: HelpdeskError) -> dict[str, Any]:
    return json_response(exc.status, error_body(exc.code, exc.message, **exc.details))

"""What every HTTP API function shares: one JSON error shape (``{"error": {"code", "message",
"details"?}}``) for domain errors, 422 validation errors with the fields, and 400 for bad values."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from helpdesk.api.responses import error_body
from helpdesk.core.errors import HelpdeskError


def install_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(HelpdeskError)
    def _domain_error(exc: HelpdeskError) -> Response:
        return Response(
            status_code=exc.status,
            content_type="application/json",
            body=error_body(exc.code, exc.message, **exc.details),
        )

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        fields = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        return Response(
            status_code=422,
            content_type="application/json",
            body=error_body("validation_error", "the request is not valid", fields=fields),
        )

    @app.exception_handler(ValueError)
    def _bad_request(exc: ValueError) -> Response:
        return Response(status_code=400, content_type="application/json", body=error_body("bad_request", str(exc)))

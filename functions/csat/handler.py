"""The buyers' one-click satisfaction links (public: the signature in the link is the credential).
``GET /csat/{token}?score=N`` checks the link and answers a page whose form the browser posts at once
(mail scanners that open every link record nothing); ``POST`` records the score (and a comment) and
answers the thank-you page, with a form to change the score or add a comment. Thin:
``helpdesk.reports.csat.SurveyService`` does the work."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from helpdesk.core.errors import HelpdeskError
from helpdesk.platform import wiring
from helpdesk.platform.observability import logger_for
from helpdesk.reports.csat import confirm_page, error_message, error_page, thank_you_page

logger = logger_for("csat")
app = APIGatewayHttpResolver()
HTML = "text/html; charset=utf-8"


def _rate(token: str, score: Any, comment: str | None) -> Response[str]:
    language = _language()
    try:
        result = wiring.survey_links().rate(token, _score(score), comment)
    except HelpdeskError as exc:
        return _error(exc, language)
    return Response(status_code=200, content_type=HTML, body=thank_you_page(result))


def _language() -> str:
    """The buyer's browser language for an error page (a bad link cannot tell us the ticket's)."""
    header = app.current_event.headers.get("accept-language") or ""
    first = header.split(",")[0].split(";")[0].strip().lower()[:2]
    return first if first in ("en", "fr", "de", "it", "es") else "en"


def _error(exc: HelpdeskError, language: str) -> Response[str]:
    """A link that cannot be used: its status (404, 410, 422…) and a page in the buyer's language."""
    return Response(status_code=exc.status, content_type=HTML, body=error_page(error_message(exc, language), language))


def _score(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0  # refused with the buyer-facing 422 (after the link is checked)


@app.get("/csat/<token>")
def confirm(token: str) -> Response[str]:
    language = _language()
    try:
        preview = wiring.survey_links().preview(token, _score(app.current_event.get_query_string_value("score")))
    except HelpdeskError as exc:
        return _error(exc, language)
    return Response(
        status_code=200, content_type=HTML, body=confirm_page(preview), headers={"Cache-Control": "no-store"}
    )


@app.post("/csat/<token>")
def comment(token: str) -> Response[str]:
    form = parse_qs(app.current_event.decoded_body or "")
    return _rate(token, _first(form, "score"), _first(form, "comment"))


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

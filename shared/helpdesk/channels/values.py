"""Small helpers the channel connectors share: times, amounts, text, and reading channels' JSON
answers and error bodies.

They are the logic every connector needs the same way; what differs from channel to channel is a
parameter (the channel's label in messages, the keys its error bodies use, whether a number must be
finite). A channel whose rules really differ keeps its own helper in its module.

httpx is never imported here (``if TYPE_CHECKING`` only): webhook-only functions import the
connector modules, and must not pay for httpx.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from helpdesk.core.errors import ChannelError, InvalidCursor, MalformedPayload

if TYPE_CHECKING:
    import httpx


# --- times ----------------------------------------------------------------------------------------


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be in UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_time(value: Any) -> datetime:
    """A non-empty ISO-8601 string as an aware UTC datetime; ValueError for anything else."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a date-time: {value!r}")
    return utc(datetime.fromisoformat(value))


def timestamp(value: Any, what: str) -> datetime:
    """:func:`parse_time`, a bad value being MalformedPayload ``"<what> is not an ISO-8601 date-time: ..."``."""
    try:
        return parse_time(value)
    except ValueError:
        raise MalformedPayload(f"{what} is not an ISO-8601 date-time: {value!r}") from None


def optional_time(value: Any) -> datetime | None:
    """:func:`parse_time`, None for an empty value (None, "")."""
    return parse_time(value) if value else None


def time_cursor(cursor: str, label: str) -> datetime:
    """A polling cursor written by :func:`cursor_text`; anything else is InvalidCursor
    ``"<label> cursor is not an ISO-8601 date-time: ..."``."""
    try:
        return parse_time(cursor)
    except ValueError:
        raise InvalidCursor(f"{label} cursor is not an ISO-8601 date-time: {cursor!r}") from None


def cursor_text(moment: datetime) -> str:
    """``moment`` as ISO-8601 in UTC with a ``Z``: how time cursors are written."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- numbers and text -----------------------------------------------------------------------------


def decimal(value: Any, *, finite: bool = True) -> Decimal | None:
    """A JSON number or numeric string as an exact Decimal; None for None and "".

    ValueError ``"not a number: ..."`` for booleans and anything else that is not a number, and with
    ``finite`` (the default) ``"not a finite number: ..."`` for NaN and infinities.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if finite and not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def text_or_none(value: Any) -> str | None:
    """A string stripped; None for a blank one and for anything that is not a string."""
    return (value.strip() or None) if isinstance(value, str) else None


def first_text(obj: Any, keys: Iterable[str]) -> str | None:
    """The first of ``keys`` whose value in ``obj`` (a mapping) is a non-blank string, stripped; else None."""
    if isinstance(obj, Mapping):
        for key in keys:
            value = obj.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def required_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    """``obj[key]`` as a non-blank string (an integer id is turned into one), as given (not stripped);
    else MalformedPayload ``"<what> has no '<key>'"``."""
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise MalformedPayload(f"{what} has no '{key}'")
    return value


# --- JSON -----------------------------------------------------------------------------------------


def read_json(body: bytes | str, what: str, *, decimals: bool = True, error: type[Exception] = MalformedPayload) -> Any:
    """``body`` parsed as JSON, its decimal numbers as exact Decimals (``decimals=False``: as floats, the
    ``json`` default); a body that is not JSON (or not UTF-8) raises ``error``
    ``"<what> is not valid JSON: ..."``."""
    try:
        return json.loads(body, parse_float=Decimal if decimals else None)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None


def json_object(
    body: bytes | str, what: str, *, decimals: bool = True, error: type[Exception] = MalformedPayload
) -> dict[str, Any]:
    """:func:`read_json` of a body that must be a JSON object (else ``error`` ``"<what> is not a JSON object"``)."""
    payload = read_json(body, what, decimals=decimals, error=error)
    if not isinstance(payload, dict):
        raise error(f"{what} is not a JSON object")
    return payload


def json_or_none(body: bytes | str, *, decimals: bool = False) -> Any:
    """``body`` parsed as JSON (floats as floats unless ``decimals``), or None when it is not JSON (or not
    UTF-8): for bodies that are only looked into (error bodies, ids for deduplication)."""
    try:
        return json.loads(body, parse_float=Decimal if decimals else None)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


# --- channels' answers ----------------------------------------------------------------------------


def body_excerpt(response: httpx.Response) -> str:
    """The start of an answer's text (200 characters, stripped) for an error message; ``(empty body)``."""
    return response.text.strip()[:200] or "(empty body)"


def error_message(response: httpx.Response, keys: Iterable[str]) -> str:
    """The channel's message in a JSON error body: the first of ``keys`` holding a non-blank string
    (e.g. ``("message", "error_description", "error")``); else :func:`body_excerpt`."""
    return first_text(json_or_none(response.content), keys) or body_excerpt(response)


def error_list(response: httpx.Response) -> list[dict[str, Any]]:
    """The objects of an error body's ``errors`` list (``{"errors": [{...}, ...]}``); [] when there is none."""
    payload = json_or_none(response.content)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def checked(
    response: httpx.Response,
    what: str,
    *,
    label: str,
    channel: str,
    message: Callable[[httpx.Response], str],
    quote_body: bool = True,
) -> bytes:
    """The body of a 2xx answer. Any other status is a ChannelError
    ``"<label> <what> failed: HTTP <status>: <message(response)>"`` with the channel, the status and the
    first 500 characters of the body (``quote_body=False`` leaves the body out: answers that may echo a
    secret)."""
    status = response.status_code
    if 200 <= status < 300:
        return response.content
    details: dict[str, Any] = {"channel": channel, "status": status}
    if quote_body:
        details["body"] = response.text[:500]
    raise ChannelError(f"{label} {what} failed: HTTP {status}: {message(response)}", **details)


def api_json(
    response: httpx.Response,
    what: str,
    *,
    label: str,
    channel: str,
    message: Callable[[httpx.Response], str],
    decimals: bool = True,
) -> Any:
    """The JSON of a 2xx answer (:func:`checked`, :func:`read_json`); a body that is not JSON is
    MalformedPayload ``"<label> <what> answer is not valid JSON: ..."``."""
    body = checked(response, what, label=label, channel=channel, message=message)
    return read_json(body, f"{label} {what} answer", decimals=decimals)

"""The helpers the channel connectors share (helpdesk.channels.values): times, amounts, text, JSON
bodies and channels' error answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from helpdesk.channels import values
from helpdesk.core.errors import ChannelError, InvalidCursor, MalformedPayload

ROOT = Path(__file__).resolve().parents[2]


# --- times ----------------------------------------------------------------------------------------


def test_utc_takes_a_naive_time_as_utc_and_converts_an_aware_one() -> None:
    assert values.utc(datetime(2024, 1, 2, 3, 4)) == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    converted = values.utc(datetime(2024, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-5))))
    assert converted == datetime(2024, 1, 2, 8, 4, tzinfo=UTC)
    assert converted.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05+02:00", datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_8601_as_utc(value: str, expected: datetime) -> None:
    assert values.parse_time(value) == expected
    assert values.timestamp(value, "x") == expected
    assert values.optional_time(value) == expected


@pytest.mark.parametrize("value", [None, "", 1700000000, "yesterday", "2024-13-01T00:00:00"])
def test_a_value_that_is_not_an_iso_string_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        values.parse_time(value)
    with pytest.raises(MalformedPayload, match=r"^thread 7 date_updated is not an ISO-8601 date-time: "):
        values.timestamp(value, "thread 7 date_updated")


def test_optional_time_is_none_for_an_empty_value() -> None:
    assert values.optional_time(None) is None
    assert values.optional_time("") is None


def test_a_time_cursor_is_written_with_a_z_and_read_back() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=1)))
    text = values.cursor_text(moment)
    assert text == "2024-01-02T02:04:05.678000Z"
    assert values.time_cursor(text, "eBay") == moment


def test_a_bad_time_cursor_is_an_invalid_cursor_naming_the_channel() -> None:
    with pytest.raises(InvalidCursor, match=r"^Mirakl cursor is not an ISO-8601 date-time: 'nope'$"):
        values.time_cursor("nope", "Mirakl")


# --- numbers and text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.30", Decimal("12.30")),
        (7, Decimal(7)),
        (0.1, Decimal("0.1")),
        (Decimal("2.5"), Decimal("2.5")),
        (None, None),
        ("", None),
    ],
)
def test_decimal_reads_numbers_exactly(value: object, expected: Decimal | None) -> None:
    assert values.decimal(value) == expected
    assert values.decimal(value, finite=False) == expected


@pytest.mark.parametrize("value", [True, False, "abc", " ", [], {}])
def test_decimal_refuses_what_is_not_a_number(value: object) -> None:
    with pytest.raises(ValueError, match=r"^not a number: "):
        values.decimal(value)
    with pytest.raises(ValueError, match=r"^not a number: "):
        values.decimal(value, finite=False)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf"])
def test_decimal_refuses_non_finite_numbers_unless_told_otherwise(value: str) -> None:
    with pytest.raises(ValueError, match=r"^not a finite number: "):
        values.decimal(value)
    assert not values.decimal(value, finite=False).is_finite()


def test_text_or_none_strips_and_drops_blanks_and_non_strings() -> None:
    assert values.text_or_none("  Jane ") == "Jane"
    assert values.text_or_none("   ") is None
    assert values.text_or_none(5) is None
    assert values.text_or_none(None) is None


def test_first_text_is_the_first_key_holding_a_non_blank_string() -> None:
    payload = {"error": " ", "message": 5, "error_description": " expired token "}
    assert values.first_text(payload, ("error", "message", "error_description")) == "expired token"
    assert values.first_text(payload, ("error", "message")) is None
    assert values.first_text(["not", "a", "dict"], ("message",)) is None
    assert values.first_text(None, ("message",)) is None


def test_required_str_accepts_integer_ids_and_keeps_strings_as_given() -> None:
    assert values.required_str({"id": 42}, "id", "thread") == "42"
    assert values.required_str({"id": " a1 "}, "id", "thread") == " a1 "
    for obj in ({}, {"id": " "}, {"id": True}, {"id": 1.5}):
        with pytest.raises(MalformedPayload, match=r"^M11 thread has no 'id'$"):
            values.required_str(obj, "id", "M11 thread")


# --- JSON -----------------------------------------------------------------------------------------


def test_read_json_keeps_decimals_exact_unless_told_otherwise() -> None:
    assert values.read_json(b'{"total": 0.1}', "x") == {"total": Decimal("0.1")}
    assert isinstance(values.read_json(b'{"total": 0.1}', "x", decimals=False)["total"], float)


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe\x00"])
def test_a_body_that_is_not_json_is_malformed_or_the_error_asked_for(body: bytes) -> None:
    with pytest.raises(MalformedPayload, match=r"^getOrder answer is not valid JSON: "):
        values.read_json(body, "getOrder answer")
    with pytest.raises(ChannelError, match=r"^token answer is not valid JSON: "):
        values.json_object(body, "token answer", error=ChannelError)
    assert values.json_or_none(body) is None


def test_json_object_refuses_other_json_values() -> None:
    assert values.json_object(b'{"a": 1}', "webhook body") == {"a": 1}
    with pytest.raises(MalformedPayload, match=r"^webhook body is not a JSON object$"):
        values.json_object(b"[1]", "webhook body")


def test_json_or_none_parses_what_it_can() -> None:
    assert values.json_or_none(b"[1.5]") == [1.5]
    assert values.json_or_none(b"[1.5]", decimals=True) == [Decimal("1.5")]


# --- channels' answers ----------------------------------------------------------------------------


def answer(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content)


def keys_message(response: httpx.Response) -> str:
    return values.error_message(response, ("message", "error_description", "error"))


def test_error_message_quotes_the_first_key_found_else_the_start_of_the_body() -> None:
    assert keys_message(answer(400, b'{"error": "invalid_grant", "message": " Token expired "}')) == "Token expired"
    assert keys_message(answer(400, b'{"error": "invalid_grant"}')) == "invalid_grant"
    assert keys_message(answer(502, b"  Bad gateway " + b"x" * 300)) == ("Bad gateway " + "x" * 300)[:200]
    assert keys_message(answer(500, b"")) == "(empty body)"
    assert values.body_excerpt(answer(500, b"   ")) == "(empty body)"


def test_error_list_is_the_objects_of_the_errors_list() -> None:
    body = b'{"errors": [{"code": "Unauthorized"}, "text", {"code": "Other"}]}'
    assert values.error_list(answer(401, body)) == [{"code": "Unauthorized"}, {"code": "Other"}]
    assert values.error_list(answer(401, b'{"errors": "no list"}')) == []
    assert values.error_list(answer(401, b"not json")) == []


def test_checked_gives_the_body_of_a_2xx_answer() -> None:
    assert values.checked(answer(204, b""), "delete", label="Mirakl", channel="mirakl", message=keys_message) == b""
    assert values.checked(answer(200, b"{}"), "get", label="Mirakl", channel="mirakl", message=keys_message) == b"{}"


def test_checked_turns_any_other_status_into_a_channel_error() -> None:
    response = answer(404, b'{"message": "Order not found"}')
    with pytest.raises(ChannelError) as caught:
        values.checked(response, "OR11 list orders", label="Mirakl", channel="mirakl", message=keys_message)
    assert caught.value.message == "Mirakl OR11 list orders failed: HTTP 404: Order not found"
    assert caught.value.details == {"channel": "mirakl", "status": 404, "body": '{"message": "Order not found"}'}


def test_checked_can_leave_the_body_out() -> None:
    with pytest.raises(ChannelError) as caught:
        values.checked(
            answer(400, b'{"message": "secret echoed"}'),
            "create webhook",
            label="Walmart",
            channel="walmart",
            message=keys_message,
            quote_body=False,
        )
    assert caught.value.details == {"channel": "walmart", "status": 400}


def test_api_json_reads_a_2xx_answer_and_refuses_one_that_is_not_json() -> None:
    kwargs = {"label": "Etsy", "channel": "etsy", "message": keys_message}
    assert values.api_json(answer(200, b'{"a": 0.5}'), "get shop", **kwargs) == {"a": Decimal("0.5")}
    assert values.api_json(answer(200, b'{"a": 0.5}'), "get shop", decimals=False, **kwargs) == {"a": 0.5}
    with pytest.raises(MalformedPayload, match=r"^Etsy get shop answer is not valid JSON: "):
        values.api_json(answer(200, b"<html>"), "get shop", **kwargs)
    with pytest.raises(ChannelError, match=r"^Etsy get shop failed: HTTP 403: forbidden$"):
        values.api_json(answer(403, b'{"error": "forbidden"}'), "get shop", **kwargs)

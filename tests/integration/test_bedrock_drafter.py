"""The Bedrock drafter on a real ``bedrock-runtime`` client with botocore's Stubber (moto has no
Bedrock runtime): the exact Converse request, the answer read back as a draft, every failure as
``DraftUnavailable``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from botocore.stub import Stubber

from helpdesk.adapters.bedrock import CUT_SHORT_NOTE, RETRYABLE_CODES, BedrockDrafter
from helpdesk.core.models import Channel, Intent, Message, MessageDirection, Order, OrderStatus
from helpdesk.replies.draft_prompt import build_prompt
from helpdesk.replies.drafting import DraftContext, DraftUnavailable, PolicySnippet
from tests.unit.builders import NOW, TENANT, make_store, make_ticket

REGION = "eu-west-1"
MODEL = "eu.anthropic.claude-3-haiku-20240307-v1:0"
TRACKING = "00340434161094042557"


pytestmark = pytest.mark.usefixtures("fake_aws_credentials")


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _message(n: int, direction: MessageDirection, body: str) -> Message:
    return Message(
        tenant_id=TENANT,
        ticket_id="01HQ0000000000000000000000",
        message_id=f"m{n}",
        direction=direction,
        channel=Channel.WOOCOMMERCE,
        store_id="s1",
        author="x",
        body=body,
        created_at=NOW + timedelta(minutes=n),
    )


def _context(**changes: Any) -> DraftContext:
    order = Order(
        tenant_id=TENANT,
        store_id="s1",
        channel=Channel.WOOCOMMERCE,
        order_ref="1001",
        status=OrderStatus.SHIPPED,
        buyer_name="Anna Schmidt",
        carrier="DHL",
        tracking_number=TRACKING,
        tracking_url=f"https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode={TRACKING}",
        delivery_latest=datetime(2024, 3, 4, 18, tzinfo=UTC),
    )
    fields: dict[str, Any] = dict(
        tenant_id=TENANT,
        ticket=make_ticket(intent=Intent.WISMO, language="de", customer_name="Anna Schmidt", order_refs=["1001"]),
        thread=[
            _message(1, MessageDirection.INBOUND, "Wo bleibt mein Paket?"),
            _message(2, MessageDirection.OUTBOUND, "Wir schauen nach."),
            _message(3, MessageDirection.NOTE, "DHL hub delayed"),
            _message(4, MessageDirection.INBOUND, "Immer noch nichts da."),
        ],
        order=order,
        store=make_store(display_name="Lampenhaus", signatures={"de": "Ihr Lampenhaus-Team"}),
        agent_name="Jonas Weber",
        language="de",
        snippets=[
            PolicySnippet(snippet_id="shipping", title="Versand", text="DHL, 1-3 Werktage", intents=[Intent.WISMO]),
            PolicySnippet(
                snippet_id="returns", title="Rückgabe", text="30 Tage Rückgaberecht", intents=[Intent.RETURN_REFUND]
            ),
        ],
    )
    fields.update(changes)
    return DraftContext(**fields)


def _answer(*texts: str, stop: str = "end_turn", extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [*(extra or []), *({"text": t} for t in texts)]}},
        "stopReason": stop,
        "usage": {"inputTokens": 812, "outputTokens": 95, "totalTokens": 907},
        "metrics": {"latencyMs": 1234},
    }


def _expected(context: DraftContext, max_tokens: int = 600, temperature: float = 0.2) -> dict[str, Any]:
    system, messages = build_prompt(context)
    return {
        "modelId": MODEL,
        "system": [{"text": system}],
        "messages": messages,
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature},
    }


def test_the_converse_request_is_exact_and_the_answer_becomes_a_draft(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    context = _context()
    request = _expected(context)
    stubber.add_response(
        "converse",
        _answer("Hallo Anna,\n\nIhr Paket ist mit DHL unterwegs: " + TRACKING, "\n\nIhr Lampenhaus-Team"),
        expected_params=request,
    )

    draft = BedrockDrafter(client, MODEL).draft(context, NOW)

    assert draft.body == f"Hallo Anna,\n\nIhr Paket ist mit DHL unterwegs: {TRACKING}\n\n\nIhr Lampenhaus-Team"
    assert (draft.source, draft.model, draft.language, draft.macro_id) == ("bedrock", MODEL, "de", None)
    assert draft.missing == [] and draft.note is None and draft.created_at == NOW
    # What was sent: this tenant's policy for the intent only, the turns alternating from the buyer,
    # the note left out, the order's tracking number in the last user turn.
    system = request["system"][0]["text"]
    assert "- Versand: DHL, 1-3 Werktage" in system and "Rückgabe" not in system
    assert "Answer in German (language code de)" in system and "Ihr Lampenhaus-Team" in system
    roles = [m["role"] for m in request["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert TRACKING in request["messages"][-1]["content"][-1]["text"]
    assert "DHL hub delayed" not in str(request)


def test_settings_and_only_text_blocks_are_used(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    context = _context()
    thinking = {"reasoningContent": {"reasoningText": {"text": "The buyer wants tracking."}}}
    stubber.add_response(
        "converse",
        _answer("Hallo Anna,", "Ihr Paket ist unterwegs.", extra=[thinking]),
        expected_params=_expected(context, max_tokens=300, temperature=0.0),
    )

    draft = BedrockDrafter(client, MODEL, max_tokens=300, temperature=0.0).draft(context, NOW)

    assert draft.body == "Hallo Anna,\nIhr Paket ist unterwegs."


def test_an_answer_cut_at_the_length_limit_is_a_draft_with_a_note(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_response("converse", _answer("Hallo Anna, Ihr Paket", stop="max_tokens"))

    draft = BedrockDrafter(client, MODEL).draft(_context(), NOW)

    assert draft.body == "Hallo Anna, Ihr Paket" and draft.note == CUT_SHORT_NOTE


def test_facts_the_order_lacks_are_reported(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    context = _context()
    context.order = context.order.model_copy(update={"tracking_number": None, "tracking_url": None})  # type: ignore[union-attr]
    stubber.add_response("converse", _answer("Hallo Anna, Ihr Paket ist mit DHL unterwegs: [to be completed]"))

    draft = BedrockDrafter(client, MODEL).draft(context, NOW)

    assert draft.missing == ["order.tracking_number"]
    assert draft.note == "the order data has no order.tracking_number: check the draft before sending"


@pytest.mark.parametrize(
    "code, retryable",
    [
        ("ThrottlingException", True),
        ("ServiceUnavailableException", True),
        ("ModelTimeoutException", True),
        ("ModelNotReadyException", True),
        ("InternalServerException", True),
        ("AccessDeniedException", False),
        ("ValidationException", False),
        ("ResourceNotFoundException", False),
        ("ModelErrorException", False),
    ],
)
def test_aws_errors_become_draft_unavailable_with_their_code(
    bedrock: tuple[Any, Stubber], code: str, retryable: bool
) -> None:
    client, stubber = bedrock
    secret = "arn:aws:bedrock:eu-west-1:123456789012:foundation-model/x"
    stubber.add_client_error(
        "converse", service_error_code=code, service_message=f"denied for {secret}", http_status_code=400
    )

    with pytest.raises(DraftUnavailable) as caught:
        BedrockDrafter(client, MODEL).draft(_context(), NOW)

    assert caught.value.code == code and caught.value.retryable is retryable
    assert caught.value.retryable is (code in RETRYABLE_CODES)
    assert caught.value.reason.endswith(f"({code})") and str(caught.value) == caught.value.reason
    assert "123456789012" not in caught.value.reason, "the AWS message (ARNs, account ids) is never passed on"


@pytest.mark.parametrize("stop", ["content_filtered", "guardrail_intervened"])
def test_a_filtered_answer_is_no_draft(bedrock: tuple[Any, Stubber], stop: str) -> None:
    client, stubber = bedrock
    stubber.add_response("converse", _answer("Sorry, the model's output was blocked.", stop=stop))

    with pytest.raises(DraftUnavailable, match=stop) as caught:
        BedrockDrafter(client, MODEL).draft(_context(), NOW)

    assert caught.value.code == stop and not caught.value.retryable


@pytest.mark.parametrize("texts", [(), ("  ", "\n")])
def test_an_empty_answer_is_no_draft(bedrock: tuple[Any, Stubber], texts: tuple[str, ...]) -> None:
    client, stubber = bedrock
    stubber.add_response("converse", _answer(*texts))

    with pytest.raises(DraftUnavailable, match="empty draft"):
        BedrockDrafter(client, MODEL).draft(_context(), NOW)


def test_without_a_model_id_nothing_is_called(bedrock: tuple[Any, Stubber]) -> None:
    client, _ = bedrock  # no response queued: a call would fail the Stubber

    with pytest.raises(DraftUnavailable, match="no Bedrock model is configured"):
        BedrockDrafter(client, "").draft(_context(), NOW)


class _Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def converse(self, **_: Any) -> dict[str, Any]:
        raise self.error


@pytest.mark.parametrize(
    "error, retryable, reason",
    [
        (
            EndpointConnectionError(endpoint_url="https://bedrock-runtime.eu-west-1.amazonaws.com"),
            True,
            "Bedrock could not be reached (EndpointConnectionError)",
        ),
        (
            ReadTimeoutError(endpoint_url="https://bedrock-runtime.eu-west-1.amazonaws.com"),
            True,
            "Bedrock could not be reached (ReadTimeoutError)",
        ),
        (NoCredentialsError(), False, "Bedrock is not set up: the function has no AWS credentials"),
    ],
)
def test_transport_failures_become_draft_unavailable(error: Exception, retryable: bool, reason: str) -> None:
    with pytest.raises(DraftUnavailable) as caught:
        BedrockDrafter(_Failing(error), MODEL).draft(_context(), NOW)

    assert caught.value.retryable is retryable and caught.value.reason == reason

"""Amazon Translate adapter (botocore Stubber on a real client: moto has no Translate) and the
DynamoDB translation cache (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from botocore.stub import Stubber

from helpdesk.adapters.keys import translation_pk
from helpdesk.adapters.translation_aws import (
    CACHE_SK,
    AmazonTranslator,
    DynamoTranslationCache,
    amazon_language,
)
from helpdesk.core.models import Translation
from helpdesk.languages.translation import (
    MemoryTranslationCache,
    TranslationRequest,
    TranslationService,
    TranslationUnavailable,
    placeholder,
    protect,
)
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import fresh_table

REGION = "eu-west-1"
TABLE = "helpdesk-test"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("fake_aws_credentials")


@pytest.fixture
def translate_client() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("translate", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _answer(text: str, source: str = "en", target: str = "fr") -> dict[str, str]:
    return {"TranslatedText": text, "SourceLanguageCode": source, "TargetLanguageCode": target}


# --- AmazonTranslator ---------------------------------------------------------------------------


def test_the_protected_text_is_sent_and_the_answer_restored(translate_client: tuple[Any, Stubber]) -> None:
    client, stubber = translate_client
    text = "Hello, your order 1001 shipped with DHL Express: tracking JD014600003828."
    sent = protect(text, ["DHL Express"]).text
    assert sent == (f"Hello, your order {placeholder(0)} shipped with {placeholder(1)}: tracking {placeholder(2)}.")
    stubber.add_response(
        "translate_text",
        _answer(
            f"Bonjour, votre commande {placeholder(0)} a été expédiée avec {placeholder(1)} : suivi {placeholder(2)}."
        ),
        expected_params={"Text": sent, "SourceLanguageCode": "en", "TargetLanguageCode": "fr"},
    )
    service = TranslationService(AmazonTranslator(client), MemoryTranslationCache())

    result = service.translate("t1", TranslationRequest(text=text, source="en", target="fr", terms=["DHL Express"]))

    assert result == Translation(
        language="fr",
        source_language="en",
        provider="amazon-translate",
        translated=True,
        text="Bonjour, votre commande 1001 a été expédiée avec DHL Express : suivi JD014600003828.",
    )


@pytest.mark.parametrize(
    ("source", "target", "amazon_source", "amazon_target"),
    [
        ("nb", "en", "no", "en"),
        ("pt-BR", "de", "pt", "de"),
        ("en", "pt-PT", "en", "pt-PT"),
        ("zh", "fr-CA", "zh", "fr-CA"),
        ("en-GB", "zh-TW", "en", "zh-TW"),
        ("es-MX", "sv", "es-MX", "sv"),
    ],
)
def test_product_language_codes_become_amazon_codes(
    translate_client: tuple[Any, Stubber], source: str, target: str, amazon_source: str, amazon_target: str
) -> None:
    client, stubber = translate_client
    stubber.add_response(
        "translate_text",
        _answer("ok", amazon_source, amazon_target),
        expected_params={"Text": "hei", "SourceLanguageCode": amazon_source, "TargetLanguageCode": amazon_target},
    )

    assert AmazonTranslator(client).translate("hei", source, target) == "ok"
    assert amazon_language(source) == amazon_source


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("TooManyRequestsException", 429, True),
        ("ServiceUnavailableException", 503, True),
        ("InternalServerException", 500, True),
        ("UnsupportedLanguagePairException", 400, False),
        ("TextSizeLimitExceededException", 400, False),
        ("InvalidRequestException", 400, False),
        ("DetectedLanguageLowConfidenceException", 400, False),
        ("AccessDeniedException", 400, False),
    ],
)
def test_aws_errors_map_to_translation_unavailable(
    translate_client: tuple[Any, Stubber], code: str, status: int, retryable: bool
) -> None:
    client, stubber = translate_client
    stubber.add_client_error(
        "translate_text",
        service_error_code=code,
        http_status_code=status,
        service_message="User: arn:aws:sts::123456789012:assumed-role/helpdesk AKIAEXAMPLE",
    )

    with pytest.raises(TranslationUnavailable) as caught:
        AmazonTranslator(client).translate("Hello", "en", "fr")

    assert caught.value.retryable is retryable
    assert caught.value.reason == f"Amazon Translate answered {code}"
    assert "123456789012" not in str(caught.value) and "AKIA" not in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://translate.eu-west-1.amazonaws.com/"),
        ReadTimeoutError(endpoint_url="https://translate.eu-west-1.amazonaws.com/"),
    ],
)
def test_an_unreachable_endpoint_is_retryable(error: Exception) -> None:
    client = boto3.client("translate", region_name=REGION)

    def fail(**_: Any) -> None:
        raise error

    client.meta.events.register("before-call.translate.TranslateText", fail)

    with pytest.raises(TranslationUnavailable) as caught:
        AmazonTranslator(client).translate("Hello", "en", "fr")
    assert caught.value.retryable is True
    assert caught.value.reason == f"Amazon Translate could not be reached ({type(error).__name__})"


def test_missing_credentials_are_not_retryable() -> None:
    client = boto3.client("translate", region_name=REGION)

    def fail(**_: Any) -> None:
        raise NoCredentialsError()

    client.meta.events.register("before-call.translate.TranslateText", fail)

    with pytest.raises(TranslationUnavailable) as caught:
        AmazonTranslator(client).translate("Hello", "en", "fr")
    assert caught.value.retryable is False


def test_a_throttled_provider_shows_the_original_and_is_not_cached(translate_client: tuple[Any, Stubber]) -> None:
    client, stubber = translate_client
    stubber.add_client_error("translate_text", service_error_code="ThrottlingException", http_status_code=400)
    cache = MemoryTranslationCache()

    result = TranslationService(AmazonTranslator(client), cache).translate(
        "t1", TranslationRequest(text="Where is order 1001?", source="en", target="de")
    )

    assert (result.translated, result.provider, result.text) == (False, "amazon-translate", "Where is order 1001?")
    assert result.note == "not translated: Amazon Translate answered ThrottlingException"
    assert cache.items == {}


# --- DynamoTranslationCache ---------------------------------------------------------------------


@pytest.fixture
def dynamodb(stack: LocalStack) -> Iterator[Any]:
    yield from fresh_table(stack, TABLE)


def _translation(n: int) -> Translation:
    return Translation(
        language="fr", source_language="en", text=f"Commande {n} expédiée", provider="amazon-translate", translated=True
    )


def test_cache_round_trip_with_the_documented_item_shape(dynamodb: Any) -> None:
    cache = DynamoTranslationCache(dynamodb, TABLE, clock=lambda: NOW)
    cache.put_many("t1", {"k1": _translation(1)})

    assert cache.get_many("t1", ["k1", "absent"]) == {"k1": _translation(1)}
    item = dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": "TENANT#t1#XLATE#k1"}, "SK": {"S": CACHE_SK}})["Item"]
    assert item["entity"] == {"S": "translation"}
    assert item["expires_at"] == {"N": str(int((NOW + timedelta(days=90)).timestamp()))}
    assert Translation.model_validate_json(item["translation"]["S"]) == _translation(1)
    assert translation_pk("t1", "k1") == "TENANT#t1#XLATE#k1"


def test_more_keys_than_one_batch_and_missing_keys_absent(dynamodb: Any) -> None:
    cache = DynamoTranslationCache(dynamodb, TABLE, clock=lambda: NOW)
    cache.put_many("t1", {f"k{n}": _translation(n) for n in range(130)})  # 6 BatchWriteItem calls

    wanted = [f"k{n}" for n in range(0, 160)] + ["k5"]  # 161 keys (one twice): 2 BatchGetItem calls
    found = cache.get_many("t1", wanted)

    assert set(found) == {f"k{n}" for n in range(130)}
    assert found["k129"] == _translation(129)
    assert cache.get_many("t2", ["k1"]) == {}  # another tenant's entries are not this tenant's
    assert cache.get_many("t1", []) == {}


def test_expired_items_waiting_for_ttl_are_misses(dynamodb: Any) -> None:
    DynamoTranslationCache(dynamodb, TABLE, clock=lambda: NOW).put_many("t1", {"k1": _translation(1)})

    later = DynamoTranslationCache(dynamodb, TABLE, clock=lambda: NOW + timedelta(days=91))
    assert later.get_many("t1", ["k1"]) == {}


class Unprocessed:
    """A DynamoDB client that leaves part of each batch unprocessed the first time."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.gets = self.writes = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.gets += 1
        keys = RequestItems[TABLE]["Keys"]
        if self.gets == 1 and len(keys) > 1:
            answer = self.real.batch_get_item(RequestItems={TABLE: {**RequestItems[TABLE], "Keys": keys[:1]}})
            return {**answer, "UnprocessedKeys": {TABLE: {**RequestItems[TABLE], "Keys": keys[1:]}}}
        return self.real.batch_get_item(RequestItems=RequestItems)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.writes += 1
        requests = RequestItems[TABLE]
        if self.writes == 1 and len(requests) > 1:
            self.real.batch_write_item(RequestItems={TABLE: requests[:1]})
            return {"UnprocessedItems": {TABLE: requests[1:]}}
        return self.real.batch_write_item(RequestItems=RequestItems)


def test_unprocessed_keys_and_items_are_retried(dynamodb: Any) -> None:
    flaky = Unprocessed(dynamodb)
    naps: list[float] = []
    cache = DynamoTranslationCache(flaky, TABLE, clock=lambda: NOW, sleep=naps.append)

    cache.put_many("t1", {"a": _translation(1), "b": _translation(2), "c": _translation(3)})
    found = cache.get_many("t1", ["a", "b", "c"])

    assert found == {"a": _translation(1), "b": _translation(2), "c": _translation(3)}
    assert (flaky.writes, flaky.gets) == (2, 2)
    assert len(naps) == 2


def test_the_service_on_the_dynamodb_cache_pays_once(dynamodb: Any, translate_client: tuple[Any, Stubber]) -> None:
    client, stubber = translate_client
    stubber.add_response("translate_text", _answer("Bonjour"))
    service = TranslationService(AmazonTranslator(client), DynamoTranslationCache(dynamodb, TABLE, clock=lambda: NOW))
    request = TranslationRequest(text="Hello", source="en", target="fr")

    first = service.translate("t1", request)
    again = service.translate("t1", request)  # the Stubber has no second answer: a call would fail

    assert first == again and first.translated and first.text == "Bonjour"
    assert service.lookup("t1", request) == first

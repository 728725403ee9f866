"""Amazon Translate as the translation provider, and the translation cache on the one DynamoDB table.

``AmazonTranslator`` sends the protected text (``helpdesk.languages.translation.protect``) to ``TranslateText``
and turns every failure into ``TranslationUnavailable``: throttling, a service hiccup or an unreachable
endpoint is retryable, a refused request (unsupported pair, text too long, invalid) is not. The reason
names the AWS error code only, never the error message (it may carry ARNs or account ids) nor
anything about credentials. botocore's own retries (the client's retry config) have already run by then.

``DynamoTranslationCache`` keeps one item per translation: ``TENANT#<tenant>#XLATE#<key>`` / ``XLATE``,
the ``Translation`` as a JSON string, ``expires_at`` 90 days on (the table's TTL attribute). TTL
deletes lazily, so items past ``expires_at`` are ignored on read. The cache is an optimisation: keys
DynamoDB leaves unprocessed after a few retries read as misses (translated again), and writes it
keeps leaving unprocessed are dropped (translated again next time), rather than failing a translation
that succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import ValidationError

from helpdesk.adapters import keys as table_keys
from helpdesk.core.models import Translation
from helpdesk.languages.tags import canonical_tag
from helpdesk.languages.translation import TranslationUnavailable

PROVIDER = "amazon-translate"
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "InternalServerException", "TooManyRequestsException"}
)
# Known refusals (not retryable); any other code is not retried either, and is named as it came.
REFUSED_CODES = frozenset(
    {
        "UnsupportedLanguagePairException",
        "TextSizeLimitExceededException",
        "InvalidRequestException",
        "DetectedLanguageLowConfidenceException",
    }
)

# The product's codes (ISO 639-1, optional region) that Amazon Translate spells differently.
# Amazon's "pt" is Brazilian Portuguese and "pt-PT" European; "zh" simplified, "zh-TW" traditional.
AMAZON_CODES: dict[str, str] = {
    "nb": "no",
    "nn": "no",
    "fil": "tl",
    "iw": "he",
    "pt-BR": "pt",
    "pt-PT": "pt-PT",
    "zh-CN": "zh",
    "zh-SG": "zh",
    "zh-Hans": "zh",
    "zh-TW": "zh-TW",
    "zh-HK": "zh-TW",
    "zh-MO": "zh-TW",
    "zh-Hant": "zh-TW",
    "fr-CA": "fr-CA",
    "es-MX": "es-MX",
    "fa-AF": "fa-AF",
}

CACHE_SK = table_keys.TRANSLATION_SK
CACHE_TTL = timedelta(days=90)
_GET_BATCH = 100  # BatchGetItem's limit
_PUT_BATCH = 25  # BatchWriteItem's limit
_ATTEMPTS = 4  # first call + 3 retries of what DynamoDB left unprocessed
_MAX_ITEM_BYTES = 350_000  # DynamoDB's item limit is 400 KB; a bigger translation is not cached


def amazon_language(code: str) -> str:
    """The Amazon Translate code for a product language code: an exact variant Amazon knows, else the
    base language (en-GB → en, de-AT → de). Unknown languages pass through; Amazon refuses them."""
    normalised = canonical_tag(code)
    if normalised in AMAZON_CODES:
        return AMAZON_CODES[normalised]
    base = normalised.split("-")[0]
    return AMAZON_CODES.get(base, base)


class AmazonTranslator:
    name = PROVIDER

    def __init__(self, client: Any) -> None:
        self._client = client

    def translate(self, text: str, source: str, target: str) -> str:
        try:
            answer = self._client.translate_text(
                Text=text, SourceLanguageCode=amazon_language(source), TargetLanguageCode=amazon_language(target)
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "UnknownError")
            raise TranslationUnavailable(
                f"Amazon Translate answered {code}", retryable=code in RETRYABLE_CODES
            ) from exc
        except (BotoConnectionError, HTTPClientError) as exc:  # endpoint unreachable, timeouts, dropped connection
            raise TranslationUnavailable(
                f"Amazon Translate could not be reached ({type(exc).__name__})", retryable=True
            ) from exc
        except NoCredentialsError as exc:
            raise TranslationUnavailable(
                "Amazon Translate is not set up: the function has no AWS credentials", retryable=False
            ) from exc
        except BotoCoreError as exc:
            raise TranslationUnavailable(
                f"Amazon Translate call failed ({type(exc).__name__})", retryable=False
            ) from exc
        return str(answer["TranslatedText"])


class DynamoTranslationCache:
    def __init__(
        self,
        client: Any,
        table_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self._table = table_name
        self._clock = clock
        self._sleep = sleep

    def get_many(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Translation]:
        by_pk = {table_keys.translation_pk(tenant_id, k): k for k in dict.fromkeys(keys)}
        wanted = list(by_pk)
        now = int(self._clock().timestamp())
        found: dict[str, Translation] = {}
        for start in range(0, len(wanted), _GET_BATCH):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"PK": {"S": pk}, "SK": {"S": CACHE_SK}} for pk in wanted[start : start + _GET_BATCH]],
                    "ProjectionExpression": "PK, #t, expires_at",
                    "ExpressionAttributeNames": {"#t": "translation"},
                }
            }
            for attempt in range(_ATTEMPTS):
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    translation = _decode(item, now)
                    if translation is not None:
                        found[by_pk[item["PK"]["S"]]] = translation
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt < _ATTEMPTS - 1:
                    self._sleep(0.05 * 2**attempt)
        return found

    def put_many(self, tenant_id: str, items: Mapping[str, Translation]) -> None:
        expires = int((self._clock() + CACHE_TTL).timestamp())
        requests = []
        for key, translation in items.items():
            body = translation.model_dump_json()
            if len(body.encode("utf-8")) > _MAX_ITEM_BYTES:
                continue
            requests.append(
                {
                    "PutRequest": {
                        "Item": {
                            "PK": {"S": table_keys.translation_pk(tenant_id, key)},
                            "SK": {"S": CACHE_SK},
                            "entity": {"S": "translation"},
                            "translation": {"S": body},
                            "expires_at": {"N": str(expires)},
                        }
                    }
                }
            )
        for start in range(0, len(requests), _PUT_BATCH):
            pending: dict[str, Any] = {self._table: requests[start : start + _PUT_BATCH]}
            for attempt in range(_ATTEMPTS):
                answer = self._db.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                if attempt < _ATTEMPTS - 1:
                    self._sleep(0.05 * 2**attempt)


def _decode(item: dict[str, Any], now: int) -> Translation | None:
    """The cached translation; None when past its expiry (TTL has not deleted it yet) or unreadable
    (written by an older shape of the model: translated again rather than failing the read)."""
    expires = item.get("expires_at", {}).get("N")
    if expires is not None and int(expires) <= now:
        return None
    try:
        return Translation.model_validate_json(item["translation"]["S"])
    except (KeyError, ValidationError):
        return None

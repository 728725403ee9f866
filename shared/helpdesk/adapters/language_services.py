"""The translator and drafter the deployment chose (template parameters ``Translator`` and
``Drafter``, environment ``TRANSLATOR`` / ``DRAFTER`` / ``BEDROCK_MODEL_ID``), built once per process.

* translator ``amazon``: Amazon Translate (``translate:TranslateText``), results cached in the table;
  ``none`` (the local stack: moto has no Translate): nothing is translated, and every translation says so.
* drafter ``bedrock``: Amazon Bedrock's Converse API with the configured model; ``local``: the
  deterministic drafter built from the seller's macros and the order data (works offline).
"""

from __future__ import annotations

from functools import lru_cache

from helpdesk.languages.ports import Translator
from helpdesk.languages.translation import NoTranslator, TranslationService
from helpdesk.platform.config import client, settings
from helpdesk.replies.drafting import LocalDrafter
from helpdesk.replies.ports import Drafter


def translator() -> Translator:
    if settings().translator == "amazon":
        import boto3
        from botocore.config import Config

        from helpdesk.adapters.translation_aws import AmazonTranslator

        # An agent waits on it while opening a ticket: short timeouts, a few standard retries.
        return AmazonTranslator(
            boto3.session.Session().client(
                "translate",
                config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}),
            )
        )
    return NoTranslator()


@lru_cache(maxsize=1)
def translation_service() -> TranslationService:
    from helpdesk.adapters.translation_aws import DynamoTranslationCache

    return TranslationService(translator(), DynamoTranslationCache(client("dynamodb"), settings().table_name))


@lru_cache(maxsize=1)
def drafter() -> Drafter:
    if settings().drafter == "bedrock":
        import boto3
        from botocore.config import Config

        from helpdesk.adapters.bedrock import BedrockDrafter

        # An agent (15 s API timeout) or the intake waits on it: fail fast with a reason instead.
        return BedrockDrafter(
            boto3.session.Session().client(
                "bedrock-runtime",
                config=Config(connect_timeout=2, read_timeout=9, retries={"mode": "standard", "max_attempts": 2}),
            ),
            settings().bedrock_model_id,
        )
    return LocalDrafter()

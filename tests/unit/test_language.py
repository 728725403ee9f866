"""The customer's language: lingua restricted to the tenant's languages, noise removed first, the
channel's hint or the store's language when a message is too short or unclear to tell."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from helpdesk.languages.detection import LinguaDetector, cleaned, customer_language, usable
from tests.conftest import ROOT

DETECTOR = LinguaDetector()
TENANT_LANGUAGES = ["en", "fr", "de", "it", "es"]


class Fixed:
    def __init__(self, answer: tuple[str, float] | None) -> None:
        self.answer = answer
        self.asked: list[Sequence[str]] = []

    def detect(self, text: str, allowed: Sequence[str]) -> tuple[str, float] | None:
        self.asked.append(allowed)
        return self.answer


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Bonjour, où en est ma commande ? Je n'ai pas de suivi.", "fr"),
        ("Bitte stornieren Sie meine Bestellung, ich habe mich vertan.", "de"),
        ("Buongiorno, il pacco è arrivato danneggiato. Come posso fare il reso?", "it"),
        ("Hola, ¿puedo cambiar la dirección de envío?", "es"),
        ("Where is my parcel? It has been a week.", "en"),
        ("Commande 171-2345678-1234567 https://track.example/fr?id=00340434 toujours pas reçue", "fr"),
    ],
)
def test_real_buyer_sentences_are_recognised(text: str, language: str) -> None:
    found = customer_language(DETECTOR, text, allowed=TENANT_LANGUAGES, channel_hint="en", store_language="en")
    assert (found.language, found.source) == (language, "detected")
    assert found.confidence >= 0.5


def test_the_whole_labelled_set_is_recognised_at_least_95_percent() -> None:
    rows = [json.loads(line) for line in (ROOT / "tests/data/intents.jsonl").read_text().splitlines()]
    right = sum(
        customer_language(
            DETECTOR,
            f"{r.get('subject') or ''}\n{r['text']}",
            allowed=TENANT_LANGUAGES,
            channel_hint=None,
            store_language="en",
        ).language
        == r["language"]
        for r in rows
    )
    assert len(rows) == 400 and right / len(rows) >= 0.95


def test_numbers_urls_and_addresses_do_not_count() -> None:
    assert (
        cleaned("Order 303-1234567 see https://x.example/a?b=1 or mail me@x.example thanks")
        == "Order see or mail thanks"
    )


def test_a_message_too_short_to_tell_takes_the_channel_hint_then_the_store_language() -> None:
    assert DETECTOR.detect("#1001 ??", TENANT_LANGUAGES) is None
    hinted = customer_language(
        DETECTOR, "#1001 ??", allowed=TENANT_LANGUAGES, channel_hint="de-DE", store_language="en"
    )
    assert (hinted.language, hinted.source) == ("de", "channel")
    fallback = customer_language(DETECTOR, "ok", allowed=TENANT_LANGUAGES, channel_hint=None, store_language="it")
    assert (fallback.language, fallback.source) == ("it", "store")


def test_an_unsure_detection_is_not_taken_for_an_answer() -> None:
    unsure = customer_language(
        Fixed(("fr", 0.3)), "merci", allowed=TENANT_LANGUAGES, channel_hint="en", store_language="en"
    )
    assert (unsure.language, unsure.source) == ("en", "channel")


def test_detection_is_restricted_to_the_tenants_languages() -> None:
    fixed = Fixed(("de", 0.9))
    customer_language(fixed, "Hallo", allowed=["de-AT", "en", "xx"], channel_hint=None, store_language="en")
    assert fixed.asked == [["de", "en"]]
    assert usable(["pt-BR", "PT", "klingon"]) == ["pt"]
    # Dutch is not one of this tenant's languages: the nearest of theirs is chosen, never Dutch.
    found = DETECTOR.detect("Goedemorgen, waar blijft mijn bestelling?", ["en", "de"])
    assert found is not None and found[0] in ("en", "de")

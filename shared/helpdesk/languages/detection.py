"""The customer's language, detected offline from what they wrote.

``LinguaDetector`` uses lingua-language-detector restricted to the tenant's languages (the seller
says which languages their buyers write in; restricting keeps it accurate on short messages and
small in memory — every language's model loaded would take ~10 s and ~900 MB). Models load once per
process: ``preload`` at cold start, then ~0.05 ms per message. What is detected is only what the
buyer wrote: URLs, e-mail addresses, order and tracking numbers are removed first (they are the same
in every language and can tip a short message), and the quoted history of an e-mail is already gone.

A detection is kept when its confidence reaches ``MIN_CONFIDENCE``; otherwise the channel's own hint
(a marketplace locale, an e-mail's Content-Language) or the store's language is used, and the source
says which, so the inbox can show "detected" versus "assumed".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from helpdesk.core.models import Model
from helpdesk.languages.ports import LanguageDetector
from helpdesk.languages.tags import primary_language

MIN_CONFIDENCE = 0.5
MIN_LETTERS = 3
# ISO 639-1 codes the product detects, with lingua's names for them.
SUPPORTED: dict[str, str] = {
    "en": "ENGLISH",
    "fr": "FRENCH",
    "de": "GERMAN",
    "it": "ITALIAN",
    "es": "SPANISH",
    "nl": "DUTCH",
    "pt": "PORTUGUESE",
    "pl": "POLISH",
    "sv": "SWEDISH",
    "da": "DANISH",
    "nb": "BOKMAL",
    "fi": "FINNISH",
    "cs": "CZECH",
    "sk": "SLOVAK",
    "hu": "HUNGARIAN",
    "ro": "ROMANIAN",
    "el": "GREEK",
    "tr": "TURKISH",
    "ja": "JAPANESE",
    "zh": "CHINESE",
    "ko": "KOREAN",
    "ar": "ARABIC",
    "ru": "RUSSIAN",
    "uk": "UKRAINIAN",
}
DEFAULT_LANGUAGES = ("en", "fr", "de", "it", "es")
_NOISE = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|\S*\d\S*")


class DetectedLanguage(Model):
    language: str
    confidence: float
    source: Literal["detected", "channel", "store"]


def cleaned(text: str) -> str:
    """The words a buyer wrote, without URLs, addresses and anything holding a digit."""
    return " ".join(_NOISE.sub(" ", text).split())


def usable(languages: Iterable[str]) -> list[str]:
    """The tenant's languages the detector knows (base codes: pt-BR counts as pt), in order, once."""
    codes = [primary_language(code) for code in languages]
    return [code for code in dict.fromkeys(codes) if code in SUPPORTED]


def customer_language(
    detector: LanguageDetector | None,
    text: str,
    *,
    allowed: Sequence[str],
    channel_hint: str | None,
    store_language: str | None,
) -> DetectedLanguage:
    """The language to treat the customer as writing in, and where that came from."""
    languages = usable(allowed) or list(DEFAULT_LANGUAGES)
    if detector is not None and len(languages) > 1:
        found = detector.detect(text, languages)
        if found is not None and found[1] >= MIN_CONFIDENCE:
            return DetectedLanguage(language=found[0], confidence=round(found[1], 3), source="detected")
    if channel_hint:
        return DetectedLanguage(language=primary_language(channel_hint), confidence=0.0, source="channel")
    return DetectedLanguage(language=primary_language(store_language or "en"), confidence=0.0, source="store")


class LinguaDetector:
    """lingua restricted to a set of languages; one built detector per set, shared by threads."""

    def __init__(self) -> None:
        self._detectors: dict[frozenset[str], Any] = {}
        self._lock = threading.Lock()

    def preload(self, languages: Iterable[str] = DEFAULT_LANGUAGES) -> None:
        """Load the models now (cold start) rather than on the first buyer message."""
        self._detector(frozenset(usable(languages)), preload=True)

    def detect(self, text: str, allowed: Sequence[str]) -> tuple[str, float] | None:
        words = cleaned(text)
        if sum(ch.isalpha() for ch in words) < MIN_LETTERS:
            return None
        codes = frozenset(usable(allowed))
        if len(codes) < 2:
            return (next(iter(codes)), 1.0) if codes else None
        values = self._detector(codes).compute_language_confidence_values(words)
        if not values:
            return None
        best = values[0]
        by_name = {name: code for code, name in SUPPORTED.items()}
        return by_name[best.language.name], float(best.value)

    def _detector(self, codes: frozenset[str], preload: bool = False) -> Any:
        with self._lock:
            detector = self._detectors.get(codes)
            if detector is None:
                from lingua import Language, LanguageDetectorBuilder

                builder = LanguageDetectorBuilder.from_languages(*(getattr(Language, SUPPORTED[c]) for c in codes))
                if preload:
                    builder = builder.with_preloaded_language_models()
                detector = builder.build()
                self._detectors[codes] = detector
            return detector

"""The interfaces the languages services depend on; adapters (``helpdesk.adapters``) and the tests' fakes
(``tests/fakes``) implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from helpdesk.core.models import Translation


class LanguageDetector(Protocol):
    def detect(self, text: str, allowed: Sequence[str]) -> tuple[str, float] | None:
        """The most likely of ``allowed`` (ISO 639-1 codes) and its confidence, or None when the
        text holds too few letters to tell."""
        ...


class Translator(Protocol):
    name: str

    def translate(self, text: str, source: str, target: str) -> str:
        """``text`` (protected, at most ``MAX_BYTES``) from ``source`` into ``target``; raises
        ``TranslationUnavailable``."""
        ...


class TranslationCache(Protocol):
    def get_many(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Translation]:
        """The cached translations among ``keys`` (absent keys are simply not in the answer)."""
        ...

    def put_many(self, tenant_id: str, items: Mapping[str, Translation]) -> None: ...

"""Machine translation of what buyers and agents write: the buyer's message shown in the agent's
language, the agent's reply shown in the buyer's language for review before it is sent.

Three promises, each kept here rather than trusted to the provider:

* **Values are never altered.** Order numbers, tracking numbers, SKUs (every token holding a digit),
  URLs, e-mail addresses and the tenant's terms (product names, carriers, the store's name) are
  taken out before the text goes to the provider and put back afterwards (``protect`` /
  ``restore``). Neural MT does change such values when it sees them: long digit runs come back
  shortened or regrouped, word-like codes get translated. ``restore`` checks that every placeholder
  came back exactly once and raises ``ProtectionLost`` otherwise, so a text with a tracking number
  lost is never shown as a translation: the service falls back to the original, saying why.
* **Nothing is paid for twice.** Results are cached by a hash of provider, languages, text and
  terms (``cache_key``); ``translate_many`` reads the cache once and writes it once per batch.
* **Nothing is passed off as translated.** Every ``Translation`` names its provider; when no
  provider is configured (``NoTranslator``), the provider fails, or a protected value was lost, the
  original text comes back with ``translated=False`` and a note saying so. Failures are not cached.

Placeholder form, and why. Amazon Translate documents one mechanism to keep text untranslated: an
HTML element carrying ``translate="no"`` (real-time ``TranslateText`` included; the docs' own example
mixes plain text with such an element), whose content comes back verbatim. Bare sentinel tokens are
not safe: tolgee (pull request 3779) found AWS Translate rewriting word-like ``{xx1xx}`` tokens into
Traditional Chinese intermittently and moved to ``<span translate="no">``; engines alter the long
digit runs they see (translate-shell issue 296: Bing turned 525363044948115456 into 525363644456).
Custom terminology was considered and left out: it maps a term to a chosen translation, is a
resource created ahead of time per tenant (and at most one per request), and cannot list the order
and tracking numbers of the message at hand; nor does it tell us afterwards whether it held. So each
protected value becomes ``<span translate="no">⟦n⟧</span>``: the documented do-not-translate element
around an opaque index, which keeps the values themselves (URLs with ``&``, e-mail addresses) out
of the HTML entirely. Once the text carries markup the provider treats it as HTML, so:

* the buyer's own ``<``, ``>`` and ``&`` are protected like any value (a stray ``<`` before a span
  makes Amazon Translate return internal ``DNT_…`` ids: aws-sdk-ruby issue 3191), and ``⟦`` ``⟧``
  too; therefore any entity or tag in the provider's answer is the provider's and is decoded or
  checked, never confused with what the buyer wrote;
* line breaks travel as ``<br>`` (in HTML a raw newline is only a space, and engines may treat it
  so: DeepL documents ignoring newlines in its HTML mode) and come back as ``\\n``; ``\\r\\n`` is
  normalised to ``\\n`` and spaces next to a line break are dropped.

``restore`` tolerates what engines do around markup: case (``<SPAN TRANSLATE=NO>``), spaces inside
the tag or the brackets (``⟦ 0 ⟧``), a dropped span around an intact ``⟦n⟧``, entities. Anything else
left over (a stray tag or bracket) is treated as a lost value. Each placeholder costs about 30
characters of the provider's quota; a message holds a handful. This form follows Amazon's documentation
and the reports above; it has not been run against the live service from this repository, and
``restore``'s checks are what make a surprise there safe (an honest "not translated", never a
changed number).

Texts longer than one request are split (``split_for_limit``) at paragraph, then sentence, then word
boundaries, never inside a placeholder; each chunk is translated alone and the whole is restored at
once, so a value cannot be lost at a chunk border unnoticed.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from pydantic import Field, field_validator

from helpdesk.core.models import Model, Translation
from helpdesk.languages.ports import TranslationCache, Translator
from helpdesk.languages.tags import canonical_tag, primary_language

MAX_BYTES = 9000  # Amazon TranslateText takes at most 10,000 bytes of UTF-8; room for what a chunk edge adds
PROTECTION_VERSION = "1"  # part of the cache key: a new placeholder scheme never reuses old results
NO_PROVIDER = "none"
LOST_NOTE = (
    "not translated: a protected value (order or tracking number, link, e-mail address or name) "
    "did not come back intact"
)
NOTHING_NOTE = "nothing to translate: only numbers, links, addresses or names"
PENDING_NOTE = "not translated yet: the translator was slow; it is translated when the ticket is opened again"

# Letters that make a token one word with an adjacent digit: Latin (with accents), Greek, Cyrillic,
# full-width Latin. CJK, kana, Hangul and Arabic letters are left out on purpose: those scripts write
# without spaces, and "注文番号1001の件" must protect 1001, not the whole sentence.
_WORD_LETTERS = (
    r"0-9A-Za-z_\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF"
    r"\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A"
)
_WORDCHAR = rf"[{_WORD_LETTERS}\d]"
# Letters and digits joined by - . / + # (SKU-12345, 1.5kg, 42/44, #1001); ":" and "," only between
# digits (10:30, 1,000) so that "Bestellnummer:1001" protects the number, not the word.
_DIGIT_TOKEN = re.compile(rf"#?{_WORDCHAR}+(?:(?:[-./+#]|(?<=\d)[:,](?=\d)){_WORDCHAR}+)*")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'⟦⟧]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MARKUP_CHARS = re.compile(r"[<>&⟦⟧]+")  # would be read as markup, or as our brackets
_URL_TRAILING = ".,;:!?'\"”’»"
_NEWLINE = re.compile(r"\r\n?")

_OPEN, _CLOSE = '<span translate="no">', "</span>"
_BR = "<br>"
# What comes back: optional (damaged) span around the bracketed index; bare ⟦n⟧ when the span was dropped.
_PLACEHOLDER = re.compile(r"(?:<\s*span\b[^<>]*>\s*)?⟦\s*(\d+)\s*⟧(?:\s*<\s*/\s*span\s*>)?", re.IGNORECASE)
_BREAK = re.compile(r"[ \t]*<\s*br\s*/?\s*>[ \t]*", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")
_LEFTOVER = re.compile(r"[<>⟦⟧]")
_CHUNK_EDGES = re.compile(r"^(?:\s|<br>)*(.*?)(?:\s|<br>)*$", re.DOTALL)

# Chunk boundaries: a piece ends right after one of these (split_for_limit keeps every character).
_PARAGRAPH_END = re.compile(r"\n[ \t]*(?:\n\s*)+|(?:<br>[ \t]*){2,}")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?:\s+|(?=<br>))|[。！？]+\s*|\n|<br>")
_WORD_END = re.compile(r"\s+")
_ATOM = re.compile(rf"{_PLACEHOLDER.pattern}|<[^<>]*>", re.IGNORECASE)  # never cut inside


class TranslationUnavailable(Exception):
    """The provider could not translate now (``retryable``) or cannot translate this at all."""

    def __init__(self, reason: str, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class ProtectionLost(ValueError):
    """A placeholder came back missing, twice, unknown or damaged: the translation is not usable."""


class NoTranslator:
    """The offline provider: no machine translation model ships with the product, so nothing is
    translated and every result says so (the service turns this into ``translated=False``)."""

    name = NO_PROVIDER

    def translate(self, text: str, source: str, target: str) -> str:
        raise TranslationUnavailable("no translation provider is configured on this stack", retryable=False)


# --- languages ----------------------------------------------------------------------------------

_TRADITIONAL = {"TW", "HK", "MO", "Hant"}


def same_language(source: str, target: str) -> bool:
    """Same base language: fr and fr-CA are read alike, so no provider call. Chinese is the
    exception: simplified (zh, zh-CN) and traditional (zh-TW, zh-HK, zh-Hant) are different scripts."""
    if primary_language(canonical_tag(source)) != primary_language(canonical_tag(target)):
        return False
    if primary_language(canonical_tag(source)) == "zh":
        return _traditional(source) == _traditional(target)
    return True


def _traditional(code: str) -> bool:
    return any(part in _TRADITIONAL for part in canonical_tag(code).split("-")[1:])


# --- protection ---------------------------------------------------------------------------------


class Protected(Model):
    """``text`` is what goes to the provider; ``values[n]`` is what placeholder n stands for."""

    text: str
    values: list[str]


def placeholder(index: int) -> str:
    return f"{_OPEN}⟦{index}⟧{_CLOSE}"


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL.finditer(text):
        value = match.group()
        while value and (value[-1] in _URL_TRAILING or (value[-1] == ")" and value.count("(") < value.count(")"))):
            value = value[:-1]  # sentence punctuation after a link is not part of it
        spans.append((match.start(), match.start() + len(value)))
    return spans


def _term_pattern(text: str, terms: Sequence[str]) -> re.Pattern[str] | None:
    # Only the terms the text holds (a plain substring test): a catalogue of thousands of product
    # names costs microseconds, not one alternation of thousands tried at every position.
    unique = sorted({t.strip() for t in terms if t and t.strip() and t.strip() in text}, key=lambda t: (-len(t), t))
    if not unique:
        return None
    alternatives = []
    for term in unique:  # longest first: "AirFlow Pro 3" wins over "AirFlow"
        before = rf"(?<![{_WORD_LETTERS}])" if re.match(_WORDCHAR, term[0]) else ""
        after = rf"(?![{_WORD_LETTERS}])" if re.match(_WORDCHAR, term[-1]) else ""
        alternatives.append(f"{before}{re.escape(term)}{after}")
    # A lookahead matches at every position without consuming: terms overlapping one another
    # ("AirFlow Pro 3" and "Pro 3 Max" in "AirFlow Pro 3 Max") are all found, then merged.
    return re.compile(f"(?=({'|'.join(alternatives)}))")


def _protected_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Every range to keep as written, overlapping and touching ranges merged: a value that overlaps
    another (a term inside a URL, a number inside a term) is kept whole, never half exposed."""
    spans = _url_spans(text)
    spans += [m.span() for m in _EMAIL.finditer(text)]
    spans += [m.span() for m in _DIGIT_TOKEN.finditer(text) if any(ch.isdigit() for ch in m.group())]
    spans += [m.span() for m in _MARKUP_CHARS.finditer(text)]
    pattern = _term_pattern(text, terms)
    if pattern is not None:
        spans += [(m.start(), m.start() + len(m.group(1))) for m in pattern.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def protect(text: str, terms: Sequence[str] = ()) -> Protected:
    """The text the provider may change, every value it must not replaced by a placeholder."""
    text = _NEWLINE.sub("\n", text)
    values: list[str] = []
    out: list[str] = []
    position = 0
    for start, end in _protected_spans(text, terms):
        out.append(text[position:start].replace("\n", _BR))
        out.append(placeholder(len(values)))
        values.append(text[start:end])
        position = end
    out.append(text[position:].replace("\n", _BR))
    return Protected(text="".join(out), values=values)


def restore(translated: str, protected: Protected) -> str:
    """The provider's answer with every value put back; ``ProtectionLost`` unless each placeholder
    came back exactly once and nothing else of the markup is left."""
    text = html.unescape(translated)  # the buyer's own & is protected: any entity here is the provider's
    seen: Counter[int] = Counter()
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        out.append(_plain(text[position : match.start()]))
        index = int(match.group(1))
        seen[index] += 1
        out.append(protected.values[index] if index < len(protected.values) else "")
        position = match.end()
    out.append(_plain(text[position:]))
    count = len(protected.values)
    missing = [i for i in range(count) if seen[i] == 0]
    twice = sorted(i for i, n in seen.items() if n > 1 or i >= count)
    if missing or twice:  # indexes only: the values may be e-mail addresses, never put in messages
        raise ProtectionLost(f"placeholders missing {missing}, duplicated or unknown {twice}")
    return "".join(out)


def _plain(segment: str) -> str:
    segment = _BREAK.sub("\n", segment)
    if _LEFTOVER.search(segment):
        raise ProtectionLost("the translation came back with markup that is not a placeholder")
    return segment


def _has_words(protected_text: str) -> bool:
    """Letters left once placeholders and tags are out: something for the provider to translate."""
    bare = _TAG.sub(" ", _PLACEHOLDER.sub(" ", protected_text))
    return any(ch.isalpha() for ch in bare)


# --- chunking -----------------------------------------------------------------------------------


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _pieces(text: str, boundary: re.Pattern[str] | None) -> list[str]:
    """``text`` cut right after each boundary (every character when None), never inside a tag or a
    placeholder; the pieces join back to ``text``."""
    atoms = [m.span() for m in _ATOM.finditer(text)]
    cuts = [m.end() for m in boundary.finditer(text)] if boundary else list(range(1, len(text)))
    inside = {p for start, end in atoms for p in range(start + 1, end)}
    pieces, position = [], 0
    for cut in cuts:
        if position < cut < len(text) and cut not in inside:
            pieces.append(text[position:cut])
            position = cut
    pieces.append(text[position:])
    return [p for p in pieces if p]


_LEVELS: tuple[re.Pattern[str] | None, ...] = (_PARAGRAPH_END, _SENTENCE_END, _WORD_END, None)


def split_for_limit(text: str, max_bytes: int = MAX_BYTES) -> list[str]:
    """Chunks of at most ``max_bytes`` UTF-8 bytes that join back to exactly ``text``: cut at
    paragraph ends, then sentence ends, then spaces, then (a run with none of these, say a long
    Japanese paragraph) between characters; never inside a placeholder or a tag."""
    if max_bytes < 64:
        raise ValueError("max_bytes must leave room for a placeholder")
    return _split(text, max_bytes, 0) if text else []


def _split(text: str, max_bytes: int, level: int) -> list[str]:
    if _size(text) <= max_bytes:
        return [text]
    if level == len(_LEVELS):  # one atom bigger than a request: cut it anyway, between characters
        return _pack(list(text), max_bytes, level)
    return _pack(_pieces(text, _LEVELS[level]), max_bytes, level)


def _pack(pieces: list[str], max_bytes: int, level: int) -> list[str]:
    """Consecutive pieces gathered while they fit; a piece too big alone is cut one level finer."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece in pieces:
        size = _size(piece)
        if size > max_bytes:
            if current:
                chunks.append("".join(current))
                current, used = [], 0
            chunks.extend(_split(piece, max_bytes, level + 1))
            continue
        if used + size > max_bytes:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(piece)
        used += size
    if current:
        chunks.append("".join(current))
    return chunks


# --- requests, cache ----------------------------------------------------------------------------


class TranslationRequest(Model):
    text: str
    source: str
    target: str
    terms: list[str] = Field(default_factory=list, description="Names kept as written: products, carriers, the store")

    @field_validator("source", "target")
    @classmethod
    def _language(cls, value: str) -> str:
        return canonical_tag(value)


class MemoryTranslationCache:
    """In-process cache for tests and fakes; tenants never see each other's entries."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Translation] = {}

    def get_many(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Translation]:
        return {k: self.items[(tenant_id, k)] for k in keys if (tenant_id, k) in self.items}

    def put_many(self, tenant_id: str, items: Mapping[str, Translation]) -> None:
        self.items.update({(tenant_id, k): v for k, v in items.items()})


def cache_key(provider: str, request: TranslationRequest) -> str:
    """sha256 hex over provider, languages, text and terms (as a set: their order does not change the
    result) and the protection scheme's version. The text is hashed, never stored in the key."""
    material = json.dumps(
        {
            "v": PROTECTION_VERSION,
            "provider": provider,
            "source": request.source,
            "target": request.target,
            "text": request.text,
            "terms": sorted({t.strip() for t in request.terms if t.strip()}),
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


# --- service ------------------------------------------------------------------------------------


class TranslationService:
    """Translates through one provider with a per-tenant cache; see the module docstring."""

    def __init__(
        self, translator: Translator, cache: TranslationCache, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._translator = translator
        self._cache = cache
        self._monotonic = monotonic

    @property
    def provider(self) -> str:
        return self._translator.name

    def translate(self, tenant_id: str, request: TranslationRequest) -> Translation:
        return self.translate_many(tenant_id, [request])[0]

    def translate_many(
        self, tenant_id: str, requests: Sequence[TranslationRequest], budget_s: float | None = None
    ) -> list[Translation]:
        """One result per request, in order. One cache read for the batch, one write of the new
        successes; identical requests are translated once. With ``budget_s`` (an agent is waiting for
        the ticket to open), no new provider call starts once it is spent: the rest come back
        untranslated with ``PENDING_NOTE`` (not cached: the next read translates them). The cache is
        a saving, never a failure: a cache that cannot be read or written is skipped."""
        started = self._monotonic()
        results: list[Translation | None] = [None] * len(requests)
        pending: dict[str, list[int]] = {}
        for position, request in enumerate(requests):
            if same_language(request.source, request.target):
                already = primary_language(canonical_tag(request.target))
                results[position] = _untranslated(request, NO_PROVIDER, f"already in {already}")
            else:
                pending.setdefault(cache_key(self.provider, request), []).append(position)
        cached = self._cached(tenant_id, list(pending)) if pending else {}
        fresh: dict[str, Translation] = {}
        for key, positions in pending.items():
            result = cached.get(key)
            if result is None:
                if budget_s is not None and self._monotonic() - started > budget_s:
                    result = _untranslated(requests[positions[0]], self.provider, PENDING_NOTE)
                else:
                    result = self._translate(requests[positions[0]])
                if result.translated:
                    fresh[key] = result
            for position in positions:
                results[position] = result
        if fresh:
            try:
                self._cache.put_many(tenant_id, fresh)
            except Exception:
                logging.getLogger(__name__).warning("translation cache not written", exc_info=True)
        return [r for r in results if r is not None]

    def _cached(self, tenant_id: str, keys: list[str]) -> dict[str, Translation]:
        try:
            return self._cache.get_many(tenant_id, keys)
        except Exception:
            logging.getLogger(__name__).warning("translation cache not read", exc_info=True)
            return {}

    def lookup(self, tenant_id: str, request: TranslationRequest) -> Translation | None:
        """The cached machine translation of exactly this request, if any (no provider call)."""
        if same_language(request.source, request.target):
            return None
        key = cache_key(self.provider, request)
        return self._cache.get_many(tenant_id, [key]).get(key)

    def _translate(self, request: TranslationRequest) -> Translation:
        protected = protect(request.text, request.terms)
        if not _has_words(protected.text):
            return _untranslated(request, NO_PROVIDER, NOTHING_NOTE)
        try:
            answer = "".join(
                _translate_chunk(chunk, request, self._translator.translate)
                for chunk in split_for_limit(protected.text)
            )
            text = restore(answer, protected)
        except TranslationUnavailable as exc:
            return _untranslated(request, self.provider, f"not translated: {exc.reason}")
        except ProtectionLost:
            return _untranslated(request, self.provider, LOST_NOTE)
        return Translation(
            language=request.target, source_language=request.source, text=text, provider=self.provider, translated=True
        )


def _translate_chunk(chunk: str, request: TranslationRequest, translate: Callable[[str, str, str], str]) -> str:
    """Spaces and line breaks at a chunk's edges are kept as they are (engines trim them)."""
    match = _CHUNK_EDGES.match(chunk)
    assert match is not None  # the pattern matches any string
    core = match.group(1)
    if not _has_words(core):
        return chunk
    start, end = match.span(1)
    return chunk[:start] + translate(core, request.source, request.target) + chunk[end:]


def _untranslated(request: TranslationRequest, provider: str, note: str) -> Translation:
    return Translation(
        language=request.target,
        source_language=request.source,
        text=request.text,
        provider=provider,
        translated=False,
        note=note,
    )

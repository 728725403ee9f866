"""Translation: values protected and restored exactly, long texts chunked, results cached per
tenant, and every result honest about whether (and by whom) it was translated."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import pytest

from helpdesk.core.models import Translation
from helpdesk.languages.tags import canonical_tag
from helpdesk.languages.translation import (
    LOST_NOTE,
    NOTHING_NOTE,
    MemoryTranslationCache,
    NoTranslator,
    ProtectionLost,
    TranslationRequest,
    TranslationService,
    TranslationUnavailable,
    cache_key,
    placeholder,
    protect,
    restore,
    same_language,
    split_for_limit,
)

TENANT = "t1"
TERMS = ["AirFlow Pro 3", "AirFlow", "Colissimo", "DHL Express", "Maison Lune"]

# Real-looking buyer messages: an order number, a tracking number, a URL, an e-mail, a product name.
BUYER_TEXTS = {
    "en": (
        "Hi, my order 302-1234567-1234567 for the AirFlow Pro 3 hasn't arrived. DHL Express tracking "
        "JD014600003828 shows nothing since Monday: https://www.dhl.com/track?id=JD014600003828&lang=en.\n"
        "Please reply to jane.doe+orders@example.co.uk. Thanks!"
    ),
    "fr": (
        "Bonjour, ma commande n°1001 (AirFlow Pro 3) n'est toujours pas arrivée. Le suivi Colissimo "
        "6A12345678901 indique « en cours » depuis 5 jours : https://www.laposte.fr/outils/suivre-vos-envois"
        "?code=6A12345678901\nPouvez-vous me répondre à jean.dupont@orange.fr ? Merci"
    ),
    "de": (
        "Hallo, meine Bestellung #1001 ist beschädigt angekommen, der AirFlow Pro 3 hat einen Riss. "
        "Sendungsnummer 1Z999AA10123456784 (UPS). Fotos: www.example.de/fotos/1001. "
        "Bitte an max.mustermann@web.de antworten.\n\nMit freundlichen Grüßen"
    ),
    "it": (
        "Buongiorno, l'ordine 1001 del 12/03 non è ancora arrivato. Il codice di tracciamento è "
        "JD014600003828 (https://www.dhl.it/it/express/tracciabilita.html?AWB=JD014600003828). "
        "Ho ordinato un AirFlow Pro 3 da Maison Lune. Scrivetemi a mario.rossi@libero.it, grazie."
    ),
    "es": (
        "Hola, pedí un AirFlow Pro 3 (pedido 302-1234567-1234567) y recibí otro modelo. Número de "
        "seguimiento: 1Z999AA10123456784. ¿Pueden escribirme a lucia.garcia@gmail.com? "
        "Ver https://example.es/devoluciones?pedido=1001."
    ),
}
EXPECTED_VALUES = {
    "en": [
        "302-1234567-1234567",
        "AirFlow Pro 3",
        "DHL Express",
        "JD014600003828",
        "https://www.dhl.com/track?id=JD014600003828&lang=en",
        "jane.doe+orders@example.co.uk",
    ],
    "fr": [
        "1001",
        "AirFlow Pro 3",
        "Colissimo",
        "6A12345678901",
        "5",
        "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "jean.dupont@orange.fr",
    ],
    "de": ["#1001", "AirFlow Pro 3", "1Z999AA10123456784", "www.example.de/fotos/1001", "max.mustermann@web.de"],
    "it": [
        "1001",
        "12/03",
        "JD014600003828",
        "https://www.dhl.it/it/express/tracciabilita.html?AWB=JD014600003828",
        "AirFlow Pro 3",
        "Maison Lune",
        "mario.rossi@libero.it",
    ],
    "es": [
        "AirFlow Pro 3",
        "302-1234567-1234567",
        "1Z999AA10123456784",
        "lucia.garcia@gmail.com",
        "https://example.es/devoluciones?pedido=1001",
    ],
}
PLACEHOLDERS = re.compile(r'<span translate="no">⟦(\d+)⟧</span>')


def _outside_placeholders(protected_text: str) -> str:
    return PLACEHOLDERS.sub(" ", protected_text).replace("<br>", "\n")


# --- protect / restore --------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(BUYER_TEXTS))
def test_every_value_is_taken_out_and_the_text_comes_back_exactly(language: str) -> None:
    text = BUYER_TEXTS[language]
    protected = protect(text, TERMS)

    assert protected.values == EXPECTED_VALUES[language]
    words = _outside_placeholders(protected.text)
    for value in protected.values:
        assert value not in words
    assert not any(ch.isdigit() for ch in words)  # nothing holding a digit reaches the provider
    assert "<" not in words and "&" not in words
    assert restore(protected.text, protected) == text


def test_restore_puts_values_back_where_the_engine_moved_them() -> None:
    text = "Your order 1001 shipped with DHL Express on 12/03, tracking JD014600003828."
    protected = protect(text, TERMS)
    assert protected.values == ["1001", "DHL Express", "12/03", "JD014600003828"]
    # What a French engine answers: word order changed, placeholders moved, spans kept.
    answer = (
        f"Votre commande {placeholder(0)} a été expédiée le {placeholder(2)} avec {placeholder(1)}, "
        f"numéro de suivi {placeholder(3)}."
    )

    assert restore(answer, protected) == (
        "Votre commande 1001 a été expédiée le 12/03 avec DHL Express, numéro de suivi JD014600003828."
    )


@pytest.mark.parametrize(
    "form",
    [
        "⟦ 0 ⟧",
        '<span translate="no">⟦ 0 ⟧</span>',
        '<SPAN TRANSLATE="NO">⟦0⟧</SPAN>',
        "< span translate = no > ⟦0⟧ < / span >",
        "<span translate='no'>⟦0⟧</span>",
        '<span translate="no" class="notranslate">⟦0⟧</span>',
        "&lt;span translate=&quot;no&quot;&gt;⟦0⟧&lt;/span&gt;",
        "&#10214;0&#10215;",
    ],
)
def test_restore_tolerates_what_engines_do_around_a_placeholder(form: str) -> None:
    protected = protect("Tracking 1Z999AA10123456784 please")

    assert restore(f"Suivi {form} svp", protected) == "Suivi 1Z999AA10123456784 svp"


def test_line_breaks_travel_as_br_and_come_back_as_newlines() -> None:
    protected = protect("Hello\r\n\r\nOrder 1001\nThanks")

    assert protected.text == f"Hello<br><br>Order {placeholder(0)}<br>Thanks"
    assert restore(f"Bonjour <BR/><br />Commande {placeholder(0)} <br>Merci", protected) == (
        "Bonjour\n\nCommande 1001\nMerci"
    )


def test_a_dropped_placeholder_is_a_lost_value() -> None:
    protected = protect("Order 1001, tracking 1Z999AA10123456784")

    with pytest.raises(ProtectionLost, match=r"missing \[1\]"):
        restore(f"Commande {placeholder(0)}, suivi", protected)


@pytest.mark.parametrize(
    "answer",
    [
        f"Commande {placeholder(0)} {placeholder(0)}",  # duplicated
        f"Commande {placeholder(0)} {placeholder(7)}",  # unknown index
        f'Commande {placeholder(0)} <span translate="no"></span>',  # damaged markup left over
        "Commande ⟦0",  # a broken bracket
    ],
)
def test_a_duplicated_unknown_or_damaged_placeholder_is_refused(answer: str) -> None:
    protected = protect("Order 1001")

    with pytest.raises(ProtectionLost):
        restore(answer, protected)


def test_the_exception_never_carries_the_protected_values() -> None:
    protected = protect("Write to jane@example.com")

    with pytest.raises(ProtectionLost) as caught:
        restore("Écrivez à", protected)
    assert "jane" not in str(caught.value)
    assert issubclass(ProtectionLost, ValueError)


def test_terms_are_exact_case_sensitive_longest_first_and_whole_words() -> None:
    protected = protect(
        "The AirFlow Pro 3 is not an AirFlow; the airflow pro 3 is a typo. Shopping at Shop.",
        ["AirFlow", "AirFlow Pro 3", "Shop"],
    )

    assert protected.values == ["AirFlow Pro 3", "AirFlow", "3", "Shop"]  # "airflow pro 3": only its digit


def test_a_catalogue_of_thousands_of_names_protects_only_those_in_the_text() -> None:
    catalogue = [f"Lampe Modèle {n} Deluxe" for n in range(5000)] + ["Maison Lune"]

    protected = protect("J'ai acheté la Lampe Modèle 4321 Deluxe chez Maison Lune.", catalogue)

    assert protected.values == ["Lampe Modèle 4321 Deluxe", "Maison Lune"]


def test_overlapping_values_are_kept_whole() -> None:
    text = "Got the AirFlow Pro 3 Max from https://shop.example/AirFlow-Pro/1001 today"
    protected = protect(text, ["AirFlow Pro 3", "Pro 3 Max", "AirFlow"])

    assert protected.values == ["AirFlow Pro 3 Max", "https://shop.example/AirFlow-Pro/1001"]
    assert restore(protected.text, protected) == text


def test_the_buyers_own_markup_characters_are_protected() -> None:
    text = "Q&A: is <b>this</b> 100% right? I ❤ it <3 ⟦sic⟧"
    protected = protect(text)

    bare = PLACEHOLDERS.sub("", protected.text)
    assert not set("<>&⟦⟧") & set(bare)
    assert restore(protected.text, protected) == text


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("see https://track.example/x?id=1.", ["https://track.example/x?id=1"]),
        ("(https://track.example/x) ok", ["https://track.example/x"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar), right?", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("Bestellnummer:1001, um 10:30 Uhr, 1,000.00 €", ["1001", "10:30", "1,000.00"]),
        ("SKU-12345 en taille 42/44, 1.5kg, 2ème colis", ["SKU-12345", "42/44", "1.5kg", "2ème"]),
        ("注文番号1001の件です", ["1001"]),
        ("주문번호 １００１ 입니다", ["１００１"]),
        ("no digits, no links here", []),
    ],
)
def test_what_counts_as_a_value(text: str, values: list[str]) -> None:
    assert protect(text).values == values


# --- chunking -----------------------------------------------------------------------------------


def _paragraphs(size: int) -> str:
    sentence = "Le colis est arrivé abîmé et la boîte était ouverte, pouvez-vous m'aider rapidement ? "
    paragraphs, total = [], 0
    while total < size:
        paragraph = sentence * 12
        paragraphs.append(paragraph.strip())
        total += len(paragraph.encode())
    return "\n\n".join(paragraphs)


def test_a_25_kb_text_is_cut_at_paragraphs_within_the_limit_and_joins_back() -> None:
    text = _paragraphs(25_000)
    chunks = split_for_limit(text)

    assert len(text.encode()) > 25_000
    assert len(chunks) >= 3
    assert all(len(c.encode()) <= 9000 for c in chunks)
    assert "".join(chunks) == text
    assert all(c.endswith("\n\n") for c in chunks[:-1])  # paragraph boundaries, not mid-sentence


def test_one_huge_paragraph_is_cut_at_sentences_then_words_then_characters() -> None:
    sentences = "Where is my parcel? I paid for express delivery. " * 400
    one_word = "x" * 20_000
    japanese = "荷物がまだ届きません" * 1000  # no spaces, no sentence end: ~30 KB
    for text in (sentences, f"{sentences}{one_word} end", japanese):
        chunks = split_for_limit(text, max_bytes=9000)
        assert "".join(chunks) == text
        assert all(0 < len(c.encode()) <= 9000 for c in chunks)
    assert all(c.endswith((". ", "? ")) for c in split_for_limit(sentences)[:-1])  # at sentence ends


def test_chunks_never_cut_a_placeholder() -> None:
    text = " ".join(f"order {1000 + n} tracking 1Z999AA1{n:09d}" for n in range(600))  # ~1200 values
    protected = protect(text)
    chunks = split_for_limit(protected.text, max_bytes=2000)

    assert len(chunks) > 10
    assert "".join(chunks) == protected.text
    for chunk in chunks:
        assert chunk.count("<span") == chunk.count("</span>") == chunk.count("⟦") == chunk.count("⟧")


def test_split_keeps_short_and_empty_texts_whole() -> None:
    assert split_for_limit("Bonjour") == ["Bonjour"]
    assert split_for_limit("") == []


# --- service ------------------------------------------------------------------------------------


class FakeTranslator:
    """An engine that tags the text with the target language and keeps the markup as it came, unless
    told to answer something else; counts its calls."""

    name = "fake-mt"

    def __init__(self, answer: Callable[[str], str] | None = None, fail: TranslationUnavailable | None = None):
        self.calls: list[tuple[str, str, str]] = []
        self._answer = answer or (lambda text: text.replace("Hello", "Bonjour").replace("order", "commande"))
        self._fail = fail

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls.append((text, source, target))
        if self._fail is not None:
            raise self._fail
        return self._answer(text)


class CountingCache(MemoryTranslationCache):
    def __init__(self) -> None:
        super().__init__()
        self.gets: list[list[str]] = []
        self.puts: list[dict[str, Translation]] = []

    def get_many(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Translation]:
        self.gets.append(list(keys))
        return super().get_many(tenant_id, keys)

    def put_many(self, tenant_id: str, items: Mapping[str, Translation]) -> None:
        self.puts.append(dict(items))
        super().put_many(tenant_id, items)


def _request(
    text: str = "Hello, where is order 1001?", source: str = "en", target: str = "fr", terms: Sequence[str] = ()
) -> TranslationRequest:
    return TranslationRequest(text=text, source=source, target=target, terms=list(terms))


def test_a_translation_names_its_provider_and_keeps_every_value() -> None:
    engine = FakeTranslator()
    service = TranslationService(engine, MemoryTranslationCache())

    result = service.translate(TENANT, _request(BUYER_TEXTS["en"].replace("Hi", "Hello"), terms=TERMS))

    assert (result.provider, result.translated, result.note) == ("fake-mt", True, None)
    assert (result.language, result.source_language) == ("fr", "en")
    assert result.text.startswith("Bonjour, my commande 302-1234567-1234567 for the AirFlow Pro 3")
    for value in EXPECTED_VALUES["en"]:
        assert value in result.text
    ((sent, source, target),) = engine.calls
    assert (source, target) == ("en", "fr")
    assert "JD014600003828" not in sent and "jane.doe" not in sent and "AirFlow" not in sent
    assert placeholder(0) in sent


def test_a_cache_hit_costs_no_provider_call() -> None:
    engine = FakeTranslator()
    service = TranslationService(engine, MemoryTranslationCache())

    first = service.translate(TENANT, _request())
    again = service.translate(TENANT, _request())

    assert first == again
    assert first.text == "Bonjour, where is commande 1001?"
    assert len(engine.calls) == 1


def test_translate_many_reads_once_writes_once_and_translates_each_distinct_text_once() -> None:
    engine = FakeTranslator()
    cache = CountingCache()
    service = TranslationService(engine, cache)
    service.translate(TENANT, _request("Hello order 1"))  # already cached
    cache.gets.clear()
    cache.puts.clear()
    engine.calls.clear()
    requests = [
        _request("Hello order 1"),
        _request("Hello order 2"),
        _request("Hello order 2"),
        _request("Hello order 3", target="de"),
        _request("Hello", target="en-GB"),
    ]

    results = service.translate_many(TENANT, requests)

    assert [r.text for r in results] == [
        "Bonjour commande 1",
        "Bonjour commande 2",
        "Bonjour commande 2",
        "Bonjour commande 3",
        "Hello",
    ]
    assert [r.language for r in results] == ["fr", "fr", "fr", "de", "en-GB"]
    assert len(cache.gets) == 1 and len(cache.gets[0]) == 3  # same-language requests need no key
    assert len(cache.puts) == 1 and len(cache.puts[0]) == 2
    assert [c[0] for c in engine.calls] == [f"Hello order {placeholder(0)}"] * 2  # "2", then "3" into German
    assert [c[2] for c in engine.calls] == ["fr", "de"]


def test_a_failure_says_not_translated_and_is_not_cached() -> None:
    cache = CountingCache()
    down = FakeTranslator(fail=TranslationUnavailable("Amazon Translate answered ThrottlingException", True))
    result = TranslationService(down, cache).translate(TENANT, _request())

    assert (result.translated, result.provider) == (False, "fake-mt")
    assert result.text == "Hello, where is order 1001?"
    assert result.note == "not translated: Amazon Translate answered ThrottlingException"
    assert cache.puts == [] and cache.items == {}
    healthy = FakeTranslator()
    assert TranslationService(healthy, cache).translate(TENANT, _request()).translated
    assert len(healthy.calls) == 1  # the failure left nothing behind to be served


def test_a_lost_value_falls_back_to_the_original_and_is_not_cached() -> None:
    cache = MemoryTranslationCache()
    careless = FakeTranslator(answer=lambda text: "Bonjour, où est la commande ?")  # dropped the number
    result = TranslationService(careless, cache).translate(TENANT, _request())

    assert (result.translated, result.provider, result.note) == (False, "fake-mt", LOST_NOTE)
    assert result.text == "Hello, where is order 1001?"
    assert cache.items == {}


def test_same_base_language_is_not_sent_to_the_provider() -> None:
    engine = FakeTranslator()
    cache = CountingCache()
    result = TranslationService(engine, cache).translate(TENANT, _request("Bonjour", source="fr", target="fr-CA"))

    assert result == Translation(
        language="fr-CA", source_language="fr", text="Bonjour", provider="none", translated=False, note="already in fr"
    )
    assert engine.calls == [] and cache.gets == []


def test_simplified_and_traditional_chinese_are_different_languages() -> None:
    assert same_language("fr", "fr-CA") and same_language("pt-BR", "pt") and same_language("zh", "zh-CN")
    assert not same_language("zh", "zh-TW") and not same_language("zh-Hans", "zh-Hant")
    assert not same_language("en", "de")


def test_without_a_provider_the_original_is_shown_and_says_so() -> None:
    result = TranslationService(NoTranslator(), MemoryTranslationCache()).translate(TENANT, _request())

    assert (result.translated, result.provider, result.text) == (False, "none", "Hello, where is order 1001?")
    assert result.note == "not translated: no translation provider is configured on this stack"
    with pytest.raises(TranslationUnavailable) as caught:
        NoTranslator().translate("x", "en", "fr")
    assert caught.value.retryable is False


def test_a_text_of_values_only_needs_no_provider() -> None:
    engine = FakeTranslator()
    result = TranslationService(engine, MemoryTranslationCache()).translate(
        TENANT, _request("1Z999AA10123456784 https://t.example/1")
    )

    assert (result.translated, result.provider, result.note) == (False, "none", NOTHING_NOTE)
    assert engine.calls == []


def test_a_long_text_is_sent_in_chunks_and_restored_whole() -> None:
    text = "\n\n".join(
        (f"Paragraph about order {n}. " + "Hello there, the parcel is late. " * 60).strip() for n in range(12)
    )
    engine = FakeTranslator(answer=lambda t: t.strip().replace("Hello", "Bonjour"))  # engines trim edges
    result = TranslationService(engine, MemoryTranslationCache()).translate(TENANT, _request(text))

    assert result.translated
    assert len(engine.calls) > 2
    assert all(len(sent.encode()) <= 9000 for sent, _, _ in engine.calls)
    assert result.text == text.replace("Hello", "Bonjour")  # paragraph breaks survive the chunk edges


def test_lookup_answers_from_the_cache_only() -> None:
    engine = FakeTranslator()
    service = TranslationService(engine, MemoryTranslationCache())
    request = _request("Hello, your order 1001 has shipped.", source="en", target="fr")

    assert service.lookup(TENANT, request) is None
    translated = service.translate(TENANT, request)
    assert service.lookup(TENANT, request) == translated
    assert service.lookup("other-tenant", request) is None
    assert service.lookup(TENANT, _request("Hello", source="en", target="en-US")) is None
    assert len(engine.calls) == 1


def test_cache_key_covers_provider_languages_text_and_terms() -> None:
    base = _request(terms=["A", "B"])
    key = cache_key("amazon-translate", base)

    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == cache_key("amazon-translate", _request(terms=["B", "A"]))
    assert key == cache_key("amazon-translate", _request(target="FR", terms=["A", "B"]))
    assert (
        len(
            {
                key,
                cache_key("none", base),
                cache_key("amazon-translate", _request(target="de", terms=["A", "B"])),
                cache_key("amazon-translate", _request(source="de", terms=["A", "B"])),
                cache_key("amazon-translate", _request(text="Hello", terms=["A", "B"])),
                cache_key("amazon-translate", _request(terms=["A"])),
            }
        )
        == 6
    )


@pytest.mark.parametrize(
    ("code", "normalised"), [("fr", "fr"), ("pt_br", "pt-BR"), ("ZH-hant", "zh-Hant"), ("en-us", "en-US")]
)
def test_language_codes_are_normalised(code: str, normalised: str) -> None:
    assert canonical_tag(code) == normalised
    with pytest.raises(ValueError, match="language"):
        canonical_tag("français")


def test_an_agent_opening_a_ticket_does_not_wait_past_the_budget_and_a_broken_cache_is_skipped() -> None:
    from helpdesk.languages.translation import PENDING_NOTE

    ticks = iter([0.0, 0.0, 5.0, 5.0, 5.0])

    class Slow:
        name = "amazon-translate"
        calls = 0

        def translate(self, text: str, source: str, target: str) -> str:
            self.calls += 1
            return "Where is my parcel?"

    class Broken:
        def get_many(self, tenant_id: str, keys: object) -> dict:
            raise RuntimeError("throttled")

        def put_many(self, tenant_id: str, items: object) -> None:
            raise RuntimeError("throttled")

    slow = Slow()
    service = TranslationService(slow, Broken(), monotonic=lambda: next(ticks))
    first, second = service.translate_many(
        "t1",
        [
            TranslationRequest(text="Où est mon colis ?", source="fr", target="en"),
            TranslationRequest(text="Wo ist mein Paket?", source="de", target="en"),
        ],
        budget_s=4.0,
    )
    assert first.translated and first.text == "Where is my parcel?"
    assert not second.translated and second.note == PENDING_NOTE and second.text == "Wo ist mein Paket?"
    assert slow.calls == 1

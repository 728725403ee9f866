"""First drafts: the deterministic local drafter (macros, built-in answers from the order data, brand
voice), the one-tenant draft context, and the prompt a model gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.models import (
    Channel,
    DeliveryStatus,
    Intent,
    Macro,
    Message,
    MessageDirection,
    Order,
    OrderStatus,
)
from helpdesk.replies.draft_prompt import build_prompt, relevant_snippets
from helpdesk.replies.drafting import (
    MAX_MESSAGE_CHARS,
    MAX_THREAD_CHARS,
    MAX_THREAD_MESSAGES,
    DraftContext,
    LocalDrafter,
    PolicySnippet,
)
from tests.unit.builders import NOW, TENANT, make_store, make_ticket

OTHER = "t2"
BRT_URL = "https://vas.brt.it/vas/sped_det_show.hsm?referer=sped_numspe_par.htm&Nspediz=084123456789"


def order(**changes: Any) -> Order:
    fields: dict[str, Any] = dict(
        tenant_id=TENANT,
        store_id="s1",
        channel=Channel.WOOCOMMERCE,
        order_ref="IT-1001",
        status=OrderStatus.SHIPPED,
        buyer_name="Giulia Rossi",
        carrier="BRT",
        tracking_number="084123456789",
        tracking_url=BRT_URL,
        delivery_earliest=datetime(2026, 11, 26, 8, tzinfo=UTC),
        delivery_latest=datetime(2026, 11, 27, 18, tzinfo=UTC),
        shipped_at=datetime(2026, 11, 24, 15, tzinfo=UTC),
    )
    fields.update(changes)
    return Order(**fields)


def message(n: int, direction: MessageDirection, body: str, tenant_id: str = TENANT, **changes: Any) -> Message:
    fields: dict[str, Any] = dict(
        tenant_id=tenant_id,
        ticket_id="01HQ0000000000000000000000",
        message_id=f"m{n:03d}",
        direction=direction,
        channel=Channel.WOOCOMMERCE,
        store_id="s1",
        author="someone",
        body=body,
        created_at=NOW + timedelta(minutes=n),
    )
    fields.update(changes)
    return Message(**fields)


def context(
    language: str = "it", intent: Intent | None = Intent.WISMO, the_order: Order | None = None, **changes: Any
) -> DraftContext:
    fields: dict[str, Any] = dict(
        tenant_id=TENANT,
        ticket=make_ticket(
            intent=intent,
            language=language,
            customer_name="Giulia Rossi",
            order_refs=[the_order.order_ref] if the_order else [],
        ),
        thread=[],
        order=the_order,
        store=make_store(display_name="Lampade"),
        agent_name=None,
        language=language,
        macros=[],
        snippets=[],
    )
    fields.update(changes)
    return DraftContext(**fields)


def macro(macro_id: str, bodies: dict[str, str], tags: list[str], tenant_id: str = TENANT) -> Macro:
    return Macro(tenant_id=tenant_id, macro_id=macro_id, name=macro_id, bodies=bodies, tags=tags)


# --- the local drafter: built-in answers --------------------------------------------------------


def test_an_italian_wismo_on_a_shipped_order_gets_carrier_tracking_and_window_in_italian() -> None:
    store = make_store(display_name="Lampade", greetings={"it": "Gentile"}, signatures={"it": "Il team di Lampade"})

    draft = LocalDrafter().draft(context("it", the_order=order(), store=store), NOW)

    assert draft.body == (
        "Gentile Giulia,\n\n"
        "Grazie per il suo messaggio sull'ordine IT-1001. L'ordine è stato spedito il 24/11/2026 con BRT.\n"
        "Numero di tracciamento: 084123456789\n"
        f"Può seguire il suo pacco qui: {BRT_URL}\n"
        "Consegna prevista: tra il 26/11/2026 e il 27/11/2026.\n\n"
        "Il team di Lampade"
    )
    assert (draft.language, draft.source, draft.macro_id, draft.missing, draft.note) == ("it", "local", None, [], None)
    assert draft.created_at == NOW and draft.created_by == "system"


def test_a_shipped_order_without_tracking_is_reported_missing_never_made_up() -> None:
    untracked = order(tracking_number=None, tracking_url=None, delivery_earliest=None, delivery_latest=None)

    draft = LocalDrafter().draft(context("en", the_order=untracked), NOW)

    assert draft.missing == ["order.tracking_number"]
    assert draft.note == "the order has no tracking number: add it before sending"
    assert "Tracking" not in draft.body and "http" not in draft.body
    assert draft.body == (
        "Hello Giulia,\n\nThank you for your message about order IT-1001. "
        "The order was shipped on 2026-11-24 with BRT.\n\nKind regards,\nLampade"
    )


def test_a_delivered_order_says_when_and_promises_no_window() -> None:
    delivered = order(status=OrderStatus.DELIVERED, delivered_at=datetime(2026, 11, 27, 10, tzinfo=UTC))

    draft = LocalDrafter().draft(context("de", the_order=delivered), NOW)

    assert "Laut unseren Daten wurde die Bestellung am 27.11.2026 zugestellt." in draft.body
    assert "Sendungsnummer: 084123456789" in draft.body
    assert "Voraussichtliche Zustellung" not in draft.body
    assert draft.missing == []


def test_one_delivery_day_is_said_as_one_date() -> None:
    same_day = order(
        delivery_earliest=datetime(2026, 11, 26, 8, tzinfo=UTC), delivery_latest=datetime(2026, 11, 26, 20, tzinfo=UTC)
    )

    draft = LocalDrafter().draft(context("es", the_order=same_day), NOW)

    assert "Entrega prevista: el 26/11/2026." in draft.body


def test_wismo_without_an_order_asks_for_the_order_number() -> None:
    draft = LocalDrafter().draft(context("fr"), NOW)

    assert draft.body == (
        "Bonjour Giulia,\n\nMerci pour votre message. Pourriez-vous nous communiquer votre numéro "
        "de commande afin que nous puissions vérifier où se trouve votre colis ?\n\n"
        "Cordialement,\nLampade"
    )
    assert draft.missing == []


def test_wismo_with_an_order_number_but_no_order_data_says_it_is_being_checked() -> None:
    ctx = context("en", ticket=make_ticket(intent=Intent.WISMO, customer_name="Giulia Rossi", order_refs=["IT-9"]))

    draft = LocalDrafter().draft(ctx, NOW)

    assert "order IT-9. We are checking its status" in draft.body
    assert draft.missing == ["order.status"]


def test_a_french_cancellation_of_an_order_not_yet_shipped() -> None:
    pending = order(
        status=OrderStatus.PROCESSING, tracking_number=None, tracking_url=None, carrier=None, shipped_at=None
    )

    draft = LocalDrafter().draft(context("fr", Intent.CANCELLATION, pending), NOW)

    assert draft.body == (
        "Bonjour Giulia,\n\n"
        "Nous avons bien reçu votre demande d'annulation de la commande IT-1001. La commande n'a pas encore été "
        "expédiée : nous la préparons. Nous vérifions si elle peut encore être annulée et vous le confirmons très "
        "rapidement.\n\nCordialement,\nLampade"
    )
    assert (draft.language, draft.source, draft.missing) == ("fr", "local", [])


def test_a_cancellation_of_a_shipped_order_promises_nothing() -> None:
    draft = LocalDrafter().draft(context("en", Intent.CANCELLATION, order()), NOW)

    assert "The order was shipped on 2026-11-24 with BRT. We are checking what we can still do" in draft.body
    assert "cancelled" not in draft.body and "refund" not in draft.body


@pytest.mark.parametrize("language", ["en", "fr", "de", "it", "es"])
@pytest.mark.parametrize("intent", list(Intent))
@pytest.mark.parametrize("with_order", [True, False])
def test_every_intent_has_a_built_in_answer_in_every_language(language: str, intent: Intent, with_order: bool) -> None:
    draft = LocalDrafter().draft(context(language, intent, order() if with_order else None), NOW)

    assert draft.language == language and draft.source == "local"
    assert "{" not in draft.body and "None" not in draft.body
    greeting, text, sign_off = draft.body.split("\n\n")
    assert "Giulia" in greeting and sign_off.endswith("Lampade") and len(text) > 20
    if with_order and intent not in (Intent.PRODUCT_QUESTION,):
        assert "IT-1001" in text


def test_a_language_without_built_in_text_gets_english_and_says_so() -> None:
    draft = LocalDrafter().draft(context("pt-BR", Intent.RETURN_REFUND, order()), NOW)

    assert draft.language == "en"
    assert draft.body.startswith("Hello Giulia,\n\nWe have received your return request for order IT-1001.")
    assert draft.note == "no built-in text in pt-BR: written in English, translate it before sending"


def test_a_regional_variant_uses_its_language() -> None:
    draft = LocalDrafter().draft(context("fr-CA", Intent.OTHER), NOW)

    assert draft.language == "fr" and draft.body.startswith("Bonjour Giulia,\n\nMerci pour votre message.")


# --- brand voice ----------------------------------------------------------------------------------


def test_the_store_greeting_and_signature_of_the_customers_language_are_used() -> None:
    store = make_store(
        display_name="Lampenhaus",
        greetings={"de": "Liebe", "it": "Gentile"},
        signatures={"de": "Ihr Lampenhaus-Team", "it": "Il team"},
        brand_signature="Lampenhaus GmbH",
    )

    german = LocalDrafter().draft(context("de", Intent.OTHER, store=store), NOW)
    english = LocalDrafter().draft(context("en", Intent.OTHER, store=store), NOW)

    assert german.body.startswith("Liebe Giulia,\n\n") and german.body.endswith("\n\nIhr Lampenhaus-Team")
    assert english.body.startswith("Hello Giulia,\n\n"), "no English greeting: the neutral one"
    assert english.body.endswith("\n\nLampenhaus GmbH"), "no English signature: the store's default signature"


def test_without_any_signature_the_agent_signs_and_without_a_name_the_greeting_is_neutral() -> None:
    ctx = context(
        "it",
        Intent.OTHER,
        agent_name="Marco Bianchi",
        store=make_store(greetings={"it": "Gentile"}),
        ticket=make_ticket(intent=Intent.OTHER, customer_name=None),
    )

    draft = LocalDrafter().draft(ctx, NOW)

    assert draft.body.startswith("Buongiorno,\n\n")
    assert draft.body.endswith("\n\nCordiali saluti,\nMarco Bianchi")


# --- the local drafter: macros --------------------------------------------------------------------


def test_a_macro_tagged_with_the_intent_is_preferred_lowest_id_first() -> None:
    macros = [
        macro("wismo-b", {"it": "Seconda {{ order.ref }}"}, ["wismo"]),
        macro(
            "wismo-a",
            {
                "it": "Gentile {{ customer.first_name }}, {{ order.carrier }}: {{ order.tracking_url }} "
                "({{ order.delivery_window }})"
            },
            ["wismo", "shipping"],
        ),
        macro("aaa-returns", {"it": "Reso"}, ["return_refund"]),
    ]

    draft = LocalDrafter().draft(context("it", the_order=order(), macros=macros), NOW)

    assert draft.source == "macro" and draft.macro_id == "wismo-a" and draft.language == "it"
    assert draft.body == f"Gentile Giulia, BRT: {BRT_URL} (2026-11-26 – 2026-11-27)"
    assert draft.missing == [] and draft.note is None


def test_a_macro_reports_what_the_order_lacks() -> None:
    macros = [macro("wismo", {"en": "Tracking: {{ order.tracking_number }}"}, ["wismo"])]

    draft = LocalDrafter().draft(context("en", the_order=order(tracking_number=None), macros=macros), NOW)

    assert draft.source == "macro" and draft.missing == ["tracking_number"]
    assert draft.body == "Tracking:" and draft.note == "no value for tracking_number: complete it before sending"


def test_a_macro_without_the_customers_language_gives_way_to_the_built_in_answer() -> None:
    macros = [macro("wismo", {"en": "Your parcel {{ order.ref }} is on its way"}, ["wismo"])]

    italian = LocalDrafter().draft(context("it", the_order=order(), macros=macros), NOW)
    portuguese = LocalDrafter().draft(context("pt", the_order=order(), macros=macros), NOW)

    assert italian.source == "local" and italian.language == "it"
    assert portuguese.source == "macro" and portuguese.language == "en", "no built-in pt: the seller's words"
    assert portuguese.note == "the macro has no pt text: written in en"


def test_a_macro_that_cannot_be_rendered_is_skipped_with_a_note() -> None:
    macros = [macro("broken", {"en": "Total {{ order.total + 1 }}"}, ["wismo"])]

    draft = LocalDrafter().draft(context("en", the_order=order(total="12.50"), macros=macros), NOW)

    assert draft.source == "local"
    assert draft.note is not None and draft.note.startswith("macro broken could not be rendered")


# --- one tenant only ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("thread", [message(1, MessageDirection.INBOUND, "Dov'è il mio pacco?", tenant_id=OTHER)]),
        ("order", order(tenant_id=OTHER)),
        ("store", make_store(tenant_id=OTHER)),
        ("macros", [macro("wismo", {"it": "Ciao"}, ["wismo"], tenant_id=OTHER)]),
        ("snippets", [PolicySnippet(tenant_id=OTHER, snippet_id="returns", title="Returns", text="60 days")]),
        ("ticket", make_ticket(tenant_id=OTHER)),
    ],
)
def test_another_tenants_data_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match="another tenant's data"):
        context("it", **{field: value})
    ctx = context("it")
    with pytest.raises(ValueError, match="another tenant's data"):
        setattr(ctx, field, value)


def test_snippets_stored_without_a_tenant_are_the_contexts_own() -> None:
    snippet = PolicySnippet(snippet_id="returns", title="Returns", text="30 days")

    assert context("it", snippets=[snippet]).snippets == [snippet]


# --- the prompt -----------------------------------------------------------------------------------


def test_the_prompt_alternates_from_the_buyer_and_ends_with_the_facts() -> None:
    thread = [
        message(1, MessageDirection.OUTBOUND, "Thanks for your order!"),  # before the buyer wrote: dropped
        message(2, MessageDirection.INBOUND, "Dov'è il mio pacco?"),
        message(3, MessageDirection.INBOUND, "Sono passati 5 giorni."),
        message(4, MessageDirection.NOTE, "internal: carrier is slow this week"),
        message(5, MessageDirection.EVENT, "Intent wismo"),
        message(6, MessageDirection.OUTBOUND, "Lo controlliamo subito."),
        message(7, MessageDirection.OUTBOUND, "never delivered", delivery_status=DeliveryStatus.FAILED),
        message(8, MessageDirection.INBOUND, "Ancora niente."),
    ]
    snippets = [
        PolicySnippet(snippet_id="shipping", title="Shipping", text="BRT, 2-4 days", intents=[Intent.WISMO]),
        PolicySnippet(snippet_id="returns", title="Returns", text="30 days", intents=[Intent.RETURN_REFUND]),
        PolicySnippet(snippet_id="tone", title="Tone", text="Formal, Lei"),
    ]

    system, messages = build_prompt(context("it", the_order=order(), thread=thread, snippets=snippets))

    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"text": "Dov'è il mio pacco?\n\nSono passati 5 giorni."}]
    assert messages[1]["content"] == [{"text": "Lo controlliamo subito."}]
    last = messages[2]["content"]
    assert last[0] == {"text": "Ancora niente."}
    facts = last[1]["text"]
    assert '"tracking_number": "084123456789"' in facts and BRT_URL in facts
    assert '"delivery_window": {\n      "earliest": "2026-11-26",\n      "latest": "2026-11-27"\n    }' in facts
    assert '"customer_first_name": "Giulia"' in facts and "buyer_email" not in facts
    everything = system + str(messages)
    assert "internal: carrier is slow" not in everything and "never delivered" not in everything
    assert "Thanks for your order!" not in everything
    assert "Answer in Italian (language code it)" in system
    assert "Never promise refunds or dates not in the order data" in system
    assert "Keep order numbers, tracking numbers and links exactly" in system
    assert "Lampade" in system and "classified as: where is my order (WISMO)." in system
    assert "- Shipping: BRT, 2-4 days" in system and "- Tone: Formal, Lei" in system
    assert "Returns" not in system, "a policy for another intent stays out"


def test_when_the_agent_wrote_last_a_user_turn_carries_the_facts() -> None:
    thread = [message(1, MessageDirection.INBOUND, "Hello?"), message(2, MessageDirection.OUTBOUND, "Checking.")]

    _, messages = build_prompt(context("en", thread=thread))

    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert len(messages[2]["content"]) == 1
    assert messages[2]["content"][0]["text"].startswith("Facts for the reply")
    assert "no order data: state no order details" in messages[2]["content"][0]["text"]


def test_an_empty_thread_still_starts_with_a_user_turn() -> None:
    _, messages = build_prompt(context("en"))

    assert [m["role"] for m in messages] == ["user"]


def test_the_thread_is_capped_to_the_newest_messages_and_characters() -> None:
    many = [
        message(n, MessageDirection.INBOUND if n % 2 else MessageDirection.OUTBOUND, f"message {n} " + "x" * 900)
        for n in range(1, 60)
    ]
    huge = [message(1, MessageDirection.INBOUND, "y" * 50_000)]

    _, capped = build_prompt(context("en", thread=many))
    _, cut = build_prompt(context("en", thread=huge))

    texts = [c["text"] for m in capped for c in m["content"]][:-1]  # without the facts block
    total = sum(len(t) for t in texts)
    assert total <= MAX_THREAD_CHARS + MAX_THREAD_MESSAGES * 2  # the "\n\n" joining merged turns aside
    assert "message 59 " in texts[-1], "the newest message is kept"
    assert "message 1 " not in str(texts), "the oldest are dropped"
    assert capped[0]["role"] == "user"
    assert str(texts).count("message ") <= MAX_THREAD_MESSAGES
    (only,) = cut
    assert len(only["content"][0]["text"]) <= min(MAX_MESSAGE_CHARS + 5, MAX_THREAD_CHARS)
    assert only["content"][0]["text"].endswith("[…]")


def test_policies_for_the_intent_come_first_within_the_budget() -> None:
    snippets = [
        PolicySnippet(snippet_id="a-general", title="General", text="g" * 3000),
        PolicySnippet(snippet_id="z-wismo", title="Shipping", text="s" * 3000, intents=[Intent.WISMO]),
        PolicySnippet(snippet_id="b-general", title="Small", text="short"),
    ]

    chosen = relevant_snippets(context("en", snippets=snippets))

    assert [s.snippet_id for s in chosen] == ["z-wismo", "b-general"]

"""First drafts of a reply, for the agent to edit and send. Plain Python, no AWS here.

A **drafter** turns a ``DraftContext`` (the ticket, its thread, the order, the store, the seller's
macros and policy snippets, the customer's language) into a ``Draft``. A draft is never sent by itself:
an agent sends it, or a rule's automatic answer (``helpdesk.replies.automatic_answers``) which uses macros, not drafts.

* ``LocalDrafter`` (``local``) is deterministic and works offline (the local stack, tests): the seller's
  macro tagged with the ticket's intent, else a short built-in answer per intent in en/fr/de/it/es built
  from the order data only, in the store's brand voice.
* ``helpdesk.adapters.bedrock.BedrockDrafter`` (``bedrock``) asks a model through the Converse API with
  the prompt ``build_prompt`` makes.

Two guarantees hold for both:

* **No other tenant's data.** ``DraftContext`` refuses (``ValueError``) a message, order, store, macro or
  policy snippet of another tenant than the ticket's, so nothing built from a context (the prompt
  above all) can carry another seller's data, whatever a caller's bug hands it.
* **No invented facts.** Order status, carrier, tracking number and link, delivery window: only what
  the order says. A fact the answer needs but the order lacks (a shipped order without tracking) is
  reported in ``Draft.missing`` and the note, and left out of the text, never made up.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import Field, model_validator

from helpdesk.core.models import (
    ID_PATTERN,
    Draft,
    Intent,
    Macro,
    Message,
    Model,
    Order,
    OrderStatus,
    Store,
    Ticket,
)
from helpdesk.languages.tags import primary_language, same_primary_language
from helpdesk.replies.draft_texts import _TEXTS
from helpdesk.replies.macros import MacroRenderError, brand_voice, choose_language, placeholder_context, render

BUILT_IN_LANGUAGES = ("en", "fr", "de", "it", "es")
FALLBACK_LANGUAGE = "en"
# The prompt's size: the newest messages of the thread, within a character budget (a long e-mail is cut).
MAX_THREAD_MESSAGES = 20
MAX_THREAD_CHARS = 12_000
MAX_MESSAGE_CHARS = 4_000
MAX_POLICY_CHARS = 6_000
TRUNCATED = " […]"


class DraftUnavailable(Exception):
    """No draft could be written now (``retryable``: try again later) or for this ticket at all.
    ``code`` is the provider's error code when there is one (ThrottlingException ...)."""

    def __init__(self, reason: str, retryable: bool = False, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.code = code


class PolicySnippet(Model):
    """A seller's policy (returns, shipping, cancellations) the AI drafter may quote. ``intents``
    empty: it applies to every ticket. ``tenant_id`` is optional: snippets are stored per tenant; when
    set, a context of another tenant refuses the snippet."""

    snippet_id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=4000)
    intents: list[Intent] = Field(default_factory=list, description="Intents it applies to; empty: all")
    tenant_id: str | None = Field(default=None, pattern=ID_PATTERN)

    def applies_to(self, intent: Intent | None) -> bool:
        return not self.intents or (intent is not None and intent in self.intents)


class DraftContext(Model):
    """Everything a drafter may use, all of one tenant (checked here, on creation and on assignment)."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    ticket: Ticket
    thread: list[Message] = Field(default_factory=list, description="The timeline; notes and events are not used")
    order: Order | None = None
    store: Store | None = None
    agent_name: str | None = None
    language: str = Field(min_length=2, max_length=35, description="The customer's language: the draft's target")
    macros: list[Macro] = Field(default_factory=list)
    snippets: list[PolicySnippet] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_tenant(self) -> DraftContext:
        foreign = [what for what, owner in self._owners() if owner is not None and owner != self.tenant_id]
        if foreign:
            raise ValueError(f"the draft context holds another tenant's data: {', '.join(foreign)}")
        return self

    def _owners(self) -> Iterable[tuple[str, str | None]]:
        yield f"ticket {self.ticket.ticket_id}", self.ticket.tenant_id
        for message in self.thread:
            yield f"message {message.message_id}", message.tenant_id
        if self.order is not None:
            yield f"order {self.order.order_ref}", self.order.tenant_id
        if self.store is not None:
            yield f"store {self.store.store_id}", self.store.tenant_id
        for macro in self.macros:
            yield f"macro {macro.macro_id}", macro.tenant_id
        for snippet in self.snippets:
            yield f"policy snippet {snippet.snippet_id}", snippet.tenant_id

    @property
    def intent(self) -> Intent:
        return self.ticket.intent or Intent.OTHER

    @property
    def order_ref(self) -> str | None:
        if self.order is not None:
            return self.order.order_ref
        return self.ticket.order_refs[-1] if self.ticket.order_refs else None

    @property
    def first_name(self) -> str | None:
        name = self.ticket.customer_name or (self.order.buyer_name if self.order else None)
        return name.split()[0] if name and name.split() else None


# --- order facts ----------------------------------------------------------------------------------

_NOT_SHIPPED = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.ON_HOLD})
_ON_ITS_WAY = frozenset({OrderStatus.SHIPPED, OrderStatus.COMPLETED})
_UNSURE = frozenset({OrderStatus.UNKNOWN, OrderStatus.FAILED})


def _has_tracking(order: Order) -> bool:
    return bool(order.tracking_number or order.tracking_url)


def _delivered(order: Order) -> bool:
    """Delivered only when the channel says so: a ``completed`` order without a delivery date may be
    merely fulfilled (WooCommerce), so it reads as shipped."""
    return order.status == OrderStatus.DELIVERED or (
        order.status == OrderStatus.COMPLETED and order.delivered_at is not None
    )


def missing_facts(context: DraftContext) -> list[str]:
    """The order facts the answer to this ticket needs but the order lacks (``Draft.missing``): a
    WISMO question on a shipped order without tracking, or on an order whose status is unknown."""
    if context.intent != Intent.WISMO:
        return []
    order = context.order
    if order is None:
        return ["order.status"] if context.order_ref else []
    if _has_tracking(order) or _delivered(order):
        return []
    if order.status in _ON_ITS_WAY:
        return ["order.tracking_number"]
    if order.status in _UNSURE:
        return ["order.status"]
    return []


# Dates as buyers of each language read them; English gets ISO (unambiguous for UK and US buyers alike).
_DATE_FORMATS = {"en": "%Y-%m-%d", "fr": "%d/%m/%Y", "de": "%d.%m.%Y", "it": "%d/%m/%Y", "es": "%d/%m/%Y"}


def _day(moment: datetime | date, language: str) -> str:
    return moment.strftime(_DATE_FORMATS[language])


def _status_sentence(order: Order, language: str) -> str | None:
    """What the order data says about where the order is, in one sentence (None: nothing sure to say).
    A not-shipped status next to a tracking number is contradictory: nothing is said about it."""
    text = _TEXTS[language]
    if _delivered(order):
        if order.delivered_at:
            return text["delivered_on"].format(date=_day(order.delivered_at, language))
        return text["delivered"]
    if order.status in _ON_ITS_WAY:
        on = _day(order.shipped_at, language) if order.shipped_at else None
        if order.carrier:
            return (
                text["shipped_carrier_on"].format(date=on, carrier=order.carrier)
                if on
                else text["shipped_carrier"].format(carrier=order.carrier)
            )
        return text["shipped_on"].format(date=on) if on else text["shipped"]
    if order.status in _NOT_SHIPPED:
        return None if _has_tracking(order) else text["preparing"]
    if order.status == OrderStatus.CANCELLED:
        return text["cancelled"]
    if order.status == OrderStatus.REFUNDED:
        return text["refunded"]
    return None


def _shipping_lines(order: Order, language: str) -> list[str]:
    """Tracking number, tracking link and the promised delivery window (not once delivered or cancelled)."""
    text = _TEXTS[language]
    lines = []
    if order.tracking_number:
        lines.append(text["tracking_number"].format(number=order.tracking_number))
    if order.tracking_url:
        lines.append(text["tracking_url"].format(url=order.tracking_url))
    still_coming = not _delivered(order) and order.status not in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
    days = [_day(m, language) for m in (order.delivery_earliest, order.delivery_latest) if m]
    if still_coming and days:
        if len(set(days)) == 1:
            lines.append(text["window_day"].format(day=days[0]))
        else:
            lines.append(text["window_range"].format(start=days[0], end=days[1]))
    return lines


def _answer(context: DraftContext, language: str) -> tuple[list[str], list[str]]:
    """The built-in answer for the ticket's intent: sentences of the first paragraph, then fact lines."""
    text = _TEXTS[language]
    intent = context.intent.value
    ref = context.order_ref
    order = context.order
    opener = text[intent].format(ref=ref) if ref else text[f"{intent}_noref"]
    sentences = [opener]
    lines: list[str] = []
    status = _status_sentence(order, language) if order is not None else None
    late = order is not None and (order.status in _ON_ITS_WAY or _delivered(order))
    over = order is not None and order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)

    if context.intent == Intent.WISMO:
        if ref is None:
            sentences.append(text["wismo_ask"])
        elif order is None:
            sentences.append(text["wismo_checking"])
        else:
            sentences += [status] if status else []
            lines = _shipping_lines(order, language)
    elif context.intent == Intent.CANCELLATION:
        sentences += [status] if status else []
        if not over:
            sentences.append(text["cancel_late"] if late else text["cancel_pending"])
    elif context.intent == Intent.RETURN_REFUND:
        if order is not None and order.status == OrderStatus.REFUNDED:
            sentences.append(text["refunded"])
        else:
            sentences.append(text["return_next"])
    elif context.intent == Intent.DAMAGED_WRONG_ITEM:
        sentences.append(text["damaged_photo"])
    elif context.intent == Intent.ADDRESS_CHANGE:
        if late:
            sentences += [status] if status else []
            if order is not None and not _delivered(order):
                sentences.append(text["address_late"])
        elif over:
            sentences += [status] if status else []
        else:
            sentences.append(text["address_pending"])
    elif context.intent == Intent.PRODUCT_QUESTION:
        sentences.append(text["product_next"])
    elif context.intent == Intent.OTHER:
        sentences.append(text["other_next"])
    return sentences, lines


def _greeting(context: DraftContext, language: str) -> str:
    """The store's greeting for the language followed by the customer's first name ("Gentile Giulia,");
    without a name, or without a store greeting, the neutral one ("Hello Giulia," / "Hello,")."""
    text = _TEXTS[language]
    name = context.first_name
    greeting = brand_voice(context.store, language).get("greeting") if context.store else None
    if name and greeting:
        return f"{greeting.strip().rstrip(',')} {name},"
    return text["hello_name"].format(name=name) if name else text["hello"]


def _sign_off(context: DraftContext, language: str) -> str:
    """The store's signature for the language (else its default signature) as the seller wrote it;
    without one, a closing line and the agent's (else the store's) name. Ending with the store's
    signature also keeps the e-mail sender from appending it a second time."""
    signature = brand_voice(context.store, language).get("signature") if context.store else None
    if signature:
        return signature.strip()
    name = context.agent_name or (context.store.display_name if context.store else None)
    closing = _TEXTS[language]["closing"]
    return f"{closing}\n{name}" if name else closing


def built_in_draft(context: DraftContext, now: datetime) -> Draft:
    """The built-in answer for the ticket's intent in the customer's language (English, said in the
    note, when it is none of en/fr/de/it/es), from the order data only."""
    language = primary_language(context.language)
    notes: list[str] = []
    if language not in _TEXTS:
        notes.append(f"no built-in text in {context.language}: written in English, translate it before sending")
        language = FALLBACK_LANGUAGE
    sentences, lines = _answer(context, language)
    paragraph = " ".join(sentences)
    body = "\n\n".join([_greeting(context, language), "\n".join([paragraph, *lines]), _sign_off(context, language)])
    missing = missing_facts(context)
    if "order.tracking_number" in missing:
        notes.append("the order has no tracking number: add it before sending")
    elif "order.status" in missing:
        notes.append("the order's status is not known: check it and complete the answer before sending")
    return Draft(
        body=body, language=language, source="local", missing=missing, note="; ".join(notes) or None, created_at=now
    )


class LocalDrafter:
    """Deterministic, offline: the seller's macro for the ticket's intent, else the built-in answer.

    The macro is the one whose tags hold the intent's value ("wismo"), lowest ``macro_id`` first,
    preferring one with a body in the customer's language; when none has one and the built-in answer
    speaks the language, the built-in answer is used (a draft in the customer's language beats the
    seller's words in another). A macro that cannot be rendered for this ticket is skipped (noted)."""

    name = "local"

    def draft(self, context: DraftContext, now: datetime) -> Draft:
        tagged = sorted((m for m in context.macros if context.intent.value in m.tags), key=lambda m: m.macro_id)
        in_language = [
            m for m in tagged if same_primary_language(choose_language(m, [context.language]), context.language)
        ]
        others = [m for m in tagged if m not in in_language]
        candidates = in_language + ([] if primary_language(context.language) in _TEXTS else others)
        skipped: list[str] = []
        for macro in candidates:
            try:
                return self._from_macro(macro, context, now)
            except MacroRenderError as exc:
                skipped.append(f"macro {macro.macro_id} could not be rendered ({exc.message})")
        draft = built_in_draft(context, now)
        if skipped:
            draft = draft.model_copy(update={"note": "; ".join([*skipped, *([draft.note] if draft.note else [])])})
        return draft

    def _from_macro(self, macro: Macro, context: DraftContext, now: datetime) -> Draft:
        values = placeholder_context(context.ticket, context.order, None, context.store)
        if context.agent_name and context.agent_name.split():
            values["agent"] = {"name": context.agent_name, "first_name": context.agent_name.split()[0]}
        store_language = context.store.default_language if context.store else None
        rendered = render(macro, values, [context.language, store_language])
        notes = []
        if primary_language(rendered.language) != primary_language(context.language):
            notes.append(f"the macro has no {context.language} text: written in {rendered.language}")
        if rendered.missing:
            notes.append(f"no value for {', '.join(rendered.missing)}: complete it before sending")
        return Draft(
            body=rendered.body,
            language=rendered.language,
            source="macro",
            macro_id=macro.macro_id,
            missing=rendered.missing,
            note="; ".join(notes) or None,
            created_at=now,
        )

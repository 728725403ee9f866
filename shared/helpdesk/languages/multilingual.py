"""Agents and buyers who do not share a language. Plain Python over ``helpdesk.languages.translation``.

**Reading.** An agent opening a ticket sees each buyer message in its original and, when it is in a
language the agent does not speak (their profile's ``languages``), translated into the agent's first
language (``Message.translation``). Translations are made when somebody reads them — most tickets
are read by agents who speak the buyer's language, and Amazon Translate is billed per character —
and cached by content hash, so reading again, or a colleague with the same language reading it,
costs nothing. Order numbers, tracking numbers, URLs, e-mail addresses, the order's product names
and carrier and the store's name are never altered.

**Replying.** The agent writes in their language and asks for the reply in the buyer's
(``translate_reply``): the machine translation comes back for review; the agent sends it as is or
edited (``ReplyRequest.translation``). The reply keeps both versions: ``body`` is what the buyer
gets (their language), ``translation`` the agent's own text, and ``translation.provider`` says who
produced the sent text from it (the machine — "amazon-translate" — when the agent sent its
translation unchanged or edited it, "agent" when the agent wrote it themselves).

Without a translation provider (the local stack: moto has no Amazon Translate) every translation
says ``translated: false``, provider "none", and shows the original: nothing pretends.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, field_validator

from helpdesk.core.models import Agent, Message, MessageDirection, Model, Order, Store, Ticket, Translation
from helpdesk.languages.tags import primary_language
from helpdesk.languages.translation import TranslationRequest, TranslationService

AGENT_PROVIDER = "agent"
READ_BUDGET_S = 4.0  # opening a ticket waits at most about this long for new translations (API timeout 15 s)


class ReplyTranslationRequest(Model):
    body: str = Field(min_length=1, max_length=20_000, description="The reply in the agent's language")
    source_language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="The language the agent wrote in; default: their first",
    )

    @field_validator("body")
    @classmethod
    def _stripped(cls, body: str) -> str:
        """As the reply will store it: the translation cached for review is found again at sending."""
        if not body.strip():
            raise ValueError("the reply is empty")
        return body.strip()


def agent_language(agent: Agent | None) -> str:
    return agent.languages[0] if agent and agent.languages else "en"


def speaks(agent: Agent | None, language: str | None) -> bool:
    if not language:
        return True  # unknown language: nothing to translate to or from
    return primary_language(language) in {primary_language(code) for code in (agent.languages if agent else ["en"])}


def protected_terms(order: Order | None, store: Store | None) -> list[str]:
    """Names a translation must leave exactly as they are: products, carrier, the store."""
    terms: list[str] = []
    if order is not None:
        terms += [item.name for item in order.items if item.name]
        terms += [value for value in (order.carrier, order.order_ref, order.tracking_number) if value]
    if store is not None:
        terms.append(store.display_name)
    return list(dict.fromkeys(t.strip() for t in terms if t and t.strip()))


def translate_timeline(
    service: TranslationService, ticket: Ticket, messages: Sequence[Message], reader: Agent | None, terms: Sequence[str]
) -> list[Message]:
    """The timeline with every buyer message the reader cannot read translated into their language
    (one cache read for all of them; only what is not cached goes to the provider)."""
    target = agent_language(reader)
    wanted: list[tuple[int, TranslationRequest]] = []
    for index, message in enumerate(messages):
        language = message.language or ticket.language
        if message.direction == MessageDirection.INBOUND and language and not speaks(reader, language):
            wanted.append(
                (index, TranslationRequest(text=message.body, source=language, target=target, terms=list(terms)))
            )
    if not wanted:
        return list(messages)
    results = service.translate_many(ticket.tenant_id, [request for _, request in wanted], budget_s=READ_BUDGET_S)
    shown = list(messages)
    for (index, _), translation in zip(wanted, results, strict=True):
        shown[index] = shown[index].model_copy(update={"translation": translation})
    return shown


def translate_reply(
    service: TranslationService,
    ticket: Ticket,
    agent: Agent | None,
    request: ReplyTranslationRequest,
    terms: Sequence[str],
) -> Translation:
    """The agent's reply in the buyer's language, for review before sending."""
    source = request.source_language or agent_language(agent)
    target = ticket.language or source
    return service.translate(
        ticket.tenant_id, TranslationRequest(text=request.body, source=source, target=target, terms=list(terms))
    )


def sent_versions(
    service: TranslationService | None,
    tenant_id: str,
    *,
    written: str,
    written_language: str,
    sent: str,
    sent_language: str,
    terms: Sequence[str],
) -> Translation:
    """What a translated reply keeps besides the sent text: the agent's own, and who translated it."""
    machine = None
    if service is not None:
        machine = service.lookup(
            tenant_id,
            TranslationRequest(text=written, source=written_language, target=sent_language, terms=list(terms)),
        )
    if machine is not None and machine.translated:
        edited = machine.text.strip() != sent.strip()
        note = "machine translation edited by the agent" if edited else "machine translation reviewed by the agent"
        return Translation(
            language=written_language,
            source_language=sent_language,
            text=written,
            provider=machine.provider,
            translated=True,
            note=note,
        )
    return Translation(
        language=written_language,
        source_language=sent_language,
        text=written,
        provider=AGENT_PROVIDER,
        translated=True,
        note="translated by the agent",
    )

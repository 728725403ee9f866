"""Macros: a seller's canned answers, one body per language, with order placeholders. Plain Python.

A body is a Jinja template rendered in a **sandbox** (a seller's admin writes it, an agent's reply
sends it: it may read the placeholders below and nothing else of the process) as plain text, no
HTML escaping. Placeholders (``{{ order.tracking_number }}``):

* ``customer.name``, ``customer.first_name``, ``customer.email``
* ``order.ref``, ``order.status``, ``order.carrier``, ``order.tracking_number``, ``order.tracking_url``,
  ``order.total``, ``order.currency``, ``order.ordered_at``, ``order.shipped_at``,
  ``order.delivered_at`` (dates as YYYY-MM-DD), ``order.items`` (a list of ``name``/``quantity``/``sku``)
* ``order.delivery_earliest``, ``order.delivery_latest`` and ``order.delivery_window`` (the window the
  channel promised: "2026-11-25 – 2026-11-27", or one date)
* ``ticket.id``, ``ticket.subject``; ``agent.name``, ``agent.first_name``
* ``store.name``, and the store's brand voice in the body's language: ``store.greeting``,
  ``store.signature`` (the signature falls back to the store's default signature)

A placeholder the ticket has no value for (no order yet, no tracking number) renders as nothing and
is **reported**: a reply from such a macro is refused (``macro_incomplete``) unless the agent sends
the text edited, so a buyer never reads "your tracking number is ." Templates are compiled when the
macro is saved: a syntax error is a 422 then, never a failed reply later.

Language: the ticket's language if the macro has a body in it, else the store's default language,
else English, else the first body; the result says which was used (the inbox can offer to translate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, field_validator

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, HelpdeskError, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import Agent, Macro, Model, Order, Store, Ticket
from helpdesk.replies.ports import MacroRecords

LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
MAX_BODY = 20_000
FALLBACK_LANGUAGE = "en"
_ENV = SandboxedEnvironment(autoescape=False)  # parses (validates) templates when a macro is saved
_VOICE = "_store_voice"  # the Store in a placeholder context: its greeting/signature depend on the body's language


class MacroRenderError(HelpdeskError):
    code = "macro_error"
    status = 422


class MacroSpec(Model):
    """What an admin sends to create or replace a macro."""

    name: str = Field(min_length=1, max_length=200)
    bodies: dict[str, str] = Field(min_length=1, description="Template per language code (en, de, fr-CA ...)")
    tags: list[str] = Field(default_factory=list, max_length=20, description="Added to the ticket when used")

    @field_validator("bodies")
    @classmethod
    def _valid_templates(cls, bodies: dict[str, str]) -> dict[str, str]:
        for language, body in bodies.items():
            if not re.match(LANGUAGE_PATTERN, language):
                raise ValueError(f"{language!r} is not a language code (en, de, pt-BR ...)")
            if not body.strip() or len(body) > MAX_BODY:
                raise ValueError(f"the {language} body must have 1 to {MAX_BODY} characters")
            try:
                _ENV.parse(body)
            except TemplateSyntaxError as exc:
                raise ValueError(
                    f"the {language} body is not a valid template (line {exc.lineno}: {exc.message})"
                ) from None
        return bodies

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: list[str]) -> list[str]:
        normalised = [t.strip().lower() for t in tags]
        for tag in normalised:
            if not re.match(TAG_PATTERN, tag):
                raise ValueError(f"{tag!r} is not a valid tag")
        return list(dict.fromkeys(normalised))

    def to_macro(self, tenant_id: str, macro_id: str) -> Macro:
        return Macro(
            tenant_id=tenant_id, macro_id=macro_id, name=self.name, bodies=dict(self.bodies), tags=list(self.tags)
        )


class MacroCreate(MacroSpec):
    macro_id: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="Left out: one is generated"
    )


class RenderedMacro(Model):
    macro_id: str
    language: str = Field(description="The body used")
    body: str
    missing: list[str] = Field(default_factory=list, description="Placeholders the ticket had no value for")


def choose_language(macro: Macro, wanted: list[str | None]) -> str:
    for language in [*wanted, FALLBACK_LANGUAGE]:
        if not language:
            continue
        if language in macro.bodies:
            return language
        base = language.split("-")[0]
        if base in macro.bodies:
            return base
    return next(iter(macro.bodies))


def placeholder_context(
    ticket: Ticket, order: Order | None, agent: Agent | None, store: Store | None
) -> dict[str, Any]:
    """The values a macro may use; a value the ticket lacks is left out (it renders as missing)."""

    def present(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v not in (None, "", [])}

    def day(moment: datetime | None) -> str | None:
        return moment.date().isoformat() if moment else None

    name = ticket.customer_name or (order.buyer_name if order else None)
    context: dict[str, Any] = {
        "customer": present(
            {"name": name, "first_name": name.split()[0] if name else None, "email": ticket.customer_email}
        ),
        "ticket": present({"id": ticket.ticket_id, "subject": ticket.subject}),
    }
    if order is not None:
        context["order"] = present(
            {
                "ref": order.order_ref,
                "status": order.status.value if order.status.value != "unknown" else None,
                "carrier": order.carrier,
                "tracking_number": order.tracking_number,
                "tracking_url": order.tracking_url,
                "total": str(order.total) if order.total is not None else None,
                "currency": order.currency,
                "ordered_at": day(order.ordered_at),
                "shipped_at": day(order.shipped_at),
                "delivered_at": day(order.delivered_at),
                "delivery_earliest": day(order.delivery_earliest),
                "delivery_latest": day(order.delivery_latest),
                "delivery_window": delivery_window(order),
                "items": [present({"name": i.name, "quantity": i.quantity, "sku": i.sku}) for i in order.items],
            }
        )
    elif ticket.order_refs:
        context["order"] = {"ref": ticket.order_refs[-1]}
    if agent is not None:
        context["agent"] = present({"name": agent.name, "first_name": agent.name.split()[0]})
    if store is not None:
        context["store"] = present({"name": store.display_name})
        context[_VOICE] = store
    return context


def delivery_window(order: Order) -> str | None:
    """The promised delivery window as dates ("2026-11-25 – 2026-11-27"), one date when both are the
    same day or only one is known."""
    days = [moment.date().isoformat() for moment in (order.delivery_earliest, order.delivery_latest) if moment]
    if not days:
        return None
    return days[0] if len(set(days)) == 1 else f"{days[0]} – {days[1]}"


def brand_voice(store: Store, language: str) -> dict[str, str]:
    """The store's greeting and signature in ``language`` (pt-BR falls back to pt; the signature to
    the store's default one), leaving out what the seller did not write."""

    def pick(values: Mapping[str, str]) -> str | None:
        return values.get(language) or values.get(language.split("-")[0])

    voice = {"greeting": pick(store.greetings), "signature": pick(store.signatures) or store.brand_signature}
    return {key: value for key, value in voice.items() if value}


def render(macro: Macro, context: Mapping[str, Any], languages: list[str | None]) -> RenderedMacro:
    language = choose_language(macro, languages)
    context = dict(context)
    store = context.pop(_VOICE, None)
    if isinstance(store, Store):
        context["store"] = {**context.get("store", {}), **brand_voice(store, language)}
    missing: list[str] = []

    class Recording(ChainableUndefined):
        """Renders as nothing and remembers what was asked for."""

        def __str__(self) -> str:
            name = self._undefined_name or "value"
            if name not in missing:
                missing.append(name)
            return ""

    env = SandboxedEnvironment(undefined=Recording, autoescape=False, keep_trailing_newline=True)
    try:
        body = env.from_string(macro.bodies[language]).render(**{k: _attributes(v) for k, v in context.items()})
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        # A template that parses but cannot render for this ticket ({{ order.total + 1 }} on a text
        # total, a method called on a missing value, a sandbox refusal): the agent edits the text.
        raise MacroRenderError(
            f"the macro cannot be rendered for this ticket: {exc}", macro_id=macro.macro_id, language=language
        ) from None
    return RenderedMacro(macro_id=macro.macro_id, language=language, body=body.strip(), missing=missing)


def _attributes(value: Any) -> Any:
    """Dicts as plain attribute holders: ``order.items`` is the order's items, not ``dict.items``."""
    if isinstance(value, Mapping):
        return SimpleNamespace(**{k: _attributes(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_attributes(v) for v in value]
    return value


class MacroLibrary:
    """A tenant's macros as agents and admins manage them: listed by name, created with a generated id,
    replaced and deleted (an unknown macro is NotFound, a taken id Conflict)."""

    def __init__(self, records: MacroRecords, clock: Callable[[], datetime] = utc_now) -> None:
        self._records = records
        self._clock = clock

    def by_name(self, tenant_id: str) -> list[Macro]:
        return sorted(self._records.list_macros(tenant_id), key=lambda m: m.name.lower())

    def get(self, tenant_id: str, macro_id: str) -> Macro:
        macro = self._records.get_macro(tenant_id, macro_id)
        if macro is None:
            raise NotFound("macro not found", macro_id=macro_id)
        return macro

    def create(self, tenant_id: str, spec: MacroCreate) -> Macro:
        macro = spec.to_macro(tenant_id, spec.macro_id or new_id(self._clock()).lower())
        if not self._records.create_macro(macro):
            raise Conflict("a macro with this id exists", macro_id=macro.macro_id)
        return macro

    def replace(self, tenant_id: str, macro_id: str, spec: MacroSpec) -> Macro:
        self.get(tenant_id, macro_id)
        macro = spec.to_macro(tenant_id, macro_id)
        self._records.put_macro(macro)
        return macro

    def delete(self, tenant_id: str, macro_id: str) -> None:
        if not self._records.delete_macro(tenant_id, macro_id):
            raise NotFound("macro not found", macro_id=macro_id)

"""Macros: language choice, placeholders from the ticket's order, missing values reported, sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from helpdesk.core.models import Agent, Channel, Macro, Order, OrderItem, OrderStatus
from helpdesk.replies.macros import (
    MacroCreate,
    MacroRenderError,
    MacroSpec,
    choose_language,
    placeholder_context,
    render,
)
from tests.unit.builders import TENANT, make_store, make_ticket

WISMO = Macro(
    tenant_id=TENANT,
    macro_id="wismo",
    name="Where is my order",
    tags=["wismo-answered"],
    bodies={
        "en": "Hello {{ customer.first_name }}, order {{ order.ref }} left with {{ order.carrier }}: "
        "{{ order.tracking_url }}\n{{ agent.first_name }} from {{ store.name }}",
        "de": "Hallo {{ customer.first_name }}, Ihre Bestellung {{ order.ref }} ist mit {{ order.carrier }} "
        "unterwegs: {{ order.tracking_url }}",
    },
)


def shipped_order() -> Order:
    return Order(
        tenant_id=TENANT,
        store_id="s1",
        channel=Channel.WOOCOMMERCE,
        order_ref="1001",
        status=OrderStatus.SHIPPED,
        carrier="DHL",
        tracking_number="00340434",
        tracking_url="https://www.dhl.de/track?piececode=00340434",
        total=Decimal("59.90"),
        currency="EUR",
        items=[OrderItem(name="Lamp", quantity=2)],
        shipped_at=datetime(2024, 3, 1, 9, tzinfo=UTC),
    )


def context(order: Order | None = None, **ticket: object) -> dict[str, object]:
    fields = {"customer_name": "Anna Schmidt", "customer_email": "anna@example.de", "order_refs": ["1001"]}
    fields.update(ticket)
    agent = Agent(tenant_id=TENANT, agent_id="a1", name="Jonas Weber", email="jonas@shop.example")
    return placeholder_context(make_ticket(**fields), order, agent, make_store(display_name="Lampenhaus"))


def test_the_ticket_language_is_used_and_every_placeholder_filled() -> None:
    rendered = render(WISMO, context(shipped_order()), ["de", "en"])
    assert rendered.language == "de"
    assert rendered.body == (
        "Hallo Anna, Ihre Bestellung 1001 ist mit DHL unterwegs: https://www.dhl.de/track?piececode=00340434"
    )
    assert rendered.missing == []


def test_a_language_without_a_body_falls_back_to_the_store_language_then_english() -> None:
    assert choose_language(WISMO, ["it", "de"]) == "de"
    assert choose_language(WISMO, ["it", None]) == "en"
    assert choose_language(WISMO, ["de-AT"]) == "de"
    only_french = Macro(tenant_id=TENANT, macro_id="m", name="m", bodies={"fr": "Bonjour"})
    assert choose_language(only_french, ["es"]) == "fr"


def test_values_the_ticket_lacks_are_reported_not_rendered_as_none() -> None:
    unshipped = shipped_order().model_copy(update={"carrier": None, "tracking_url": None})
    rendered = render(WISMO, context(unshipped), ["en"])
    assert rendered.missing == ["carrier", "tracking_url"]
    assert "None" not in rendered.body
    assert rendered.body.startswith("Hello Anna, order 1001 left with :")


def test_without_a_stored_order_the_reference_is_still_known() -> None:
    rendered = render(WISMO, context(None), ["en"])
    assert "order 1001 left" in rendered.body
    assert rendered.missing == ["carrier", "tracking_url"]


def test_order_items_can_be_listed() -> None:
    macro = Macro(
        tenant_id=TENANT,
        macro_id="items",
        name="items",
        bodies={"en": "{% for item in order.items %}{{ item.quantity }}x {{ item.name }}{% endfor %}"},
    )
    assert render(macro, context(shipped_order()), ["en"]).body == "2x Lamp"


def test_the_sandbox_refuses_reaching_into_python() -> None:
    macro = Macro(
        tenant_id=TENANT,
        macro_id="evil",
        name="evil",
        bodies={"en": "{{ customer.__class__.__mro__ }}{{ ''.__class__.__subclasses__() if false }}"},
    )
    rendered = render(macro, context(None), ["en"])
    assert "class" not in rendered.body
    assert "__class__" in rendered.missing


def test_a_macro_with_a_broken_template_is_refused_when_saved() -> None:
    with pytest.raises(ValidationError, match="not a valid template"):
        MacroSpec(name="broken", bodies={"en": "Hello {{ customer.name"})
    with pytest.raises(ValidationError, match="not a language code"):
        MacroSpec(name="bad language", bodies={"English": "Hello"})
    with pytest.raises(ValidationError, match="macro_id"):
        MacroCreate(macro_id="Has Spaces", name="x", bodies={"en": "x"})


def test_tags_are_normalised() -> None:
    spec = MacroSpec(name="x", bodies={"en": "x"}, tags=[" WISMO ", "wismo", "answered"])
    assert spec.tags == ["wismo", "answered"]


@pytest.mark.parametrize(
    "body",
    ["{{ order.total + 1 }}", "{{ customer.nickname.upper() }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}"],
)
def test_a_macro_that_cannot_render_for_this_ticket_is_a_422_not_a_crash(body: str) -> None:
    macro = Macro(tenant_id=TENANT, macro_id="odd", name="odd", bodies={"en": body})
    with pytest.raises(MacroRenderError) as refused:
        render(macro, context(shipped_order()), ["en"])
    assert refused.value.status == 422 and refused.value.details["macro_id"] == "odd"


def test_the_store_greets_and_signs_in_the_language_of_the_body() -> None:
    voice = Macro(
        tenant_id=TENANT,
        macro_id="voice",
        name="voice",
        bodies={
            "it": "{{ store.greeting }} {{ customer.first_name }},\nconsegna prevista {{ order.delivery_window }}.\n"
            "{{ store.signature }}",
            "en": "{{ store.greeting }} {{ customer.first_name }}, arriving {{ order.delivery_window }}. "
            "{{ store.signature }}",
        },
    )
    store = make_store(
        display_name="Lampenhaus",
        greetings={"it": "Ciao", "en": "Hi"},
        signatures={"it": "Il team Lampenhaus"},
        brand_signature="The Lampenhaus team",
    )
    order = shipped_order().model_copy(
        update={
            "delivery_earliest": datetime(2024, 3, 4, 8, tzinfo=UTC),
            "delivery_latest": datetime(2024, 3, 6, 18, tzinfo=UTC),
        }
    )
    agent = Agent(tenant_id=TENANT, agent_id="a1", name="Jonas Weber", email="jonas@shop.example")
    ticket = make_ticket(customer_name="Giulia Rossi", order_refs=["1001"])
    values = placeholder_context(ticket, order, agent, store)

    italian = render(voice, values, ["it"])
    assert italian.body == "Ciao Giulia,\nconsegna prevista 2024-03-04 – 2024-03-06.\nIl team Lampenhaus"
    english = render(voice, values, ["en"])
    assert english.body == "Hi Giulia, arriving 2024-03-04 – 2024-03-06. The Lampenhaus team", (
        "no English signature: the store's default one"
    )
    assert english.missing == []


def test_a_store_without_a_greeting_in_the_language_reports_it_missing() -> None:
    voice = Macro(
        tenant_id=TENANT,
        macro_id="voice",
        name="voice",
        bodies={"fr": "{{ store.greeting }} {{ customer.first_name }}"},
    )
    rendered = render(voice, context(shipped_order()), ["fr"])
    assert rendered.missing == ["greeting"]

"""A demo seller for the local stack, and a simulated WooCommerce shop that posts real-format,
signed order webhooks (the body is the order as WooCommerce's REST API v3 documents it)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, SlaPolicy, SlaTarget, Store, Tenant
from infrastructure.local.template import ROOT

TENANT_ID = "demo"
STORE_ID = "woo-demo"
AGENT_ID = "agent-ada"
WEBHOOK_SECRET = "demo-woocommerce-webhook-secret"  # noqa: S105 - demo shop only
SAMPLE = ROOT / "infrastructure/local/samples/woocommerce/order_727.json"

BUYER_NOTES = [
    ("Anna Rossi", "anna.rossi@example.it", "Buongiorno, potete spedire l'ordine entro venerdì? Grazie"),
    ("Lukas Weber", "lukas.weber@example.de", "Bitte stornieren Sie meine Bestellung, ich habe mich vertan."),
    ("Camille Martin", "camille.martin@example.fr", "Bonjour, où en est ma commande ? Je n'ai pas de suivi."),
    ("John Doe", "john.doe@example.com", "Please leave the parcel with the neighbour at number 12."),
    ("Lucía García", "lucia.garcia@example.es", "Hola, ¿puedo cambiar la dirección de envío?"),
]


def seed(repository: DynamoRepository, secrets_client: Any, first_response_minutes: int = 2) -> Store:
    """Demo tenant, its WooCommerce store (secret in Secrets Manager) and a short demo SLA."""
    now = datetime.now(UTC)
    repository.put_tenant(
        Tenant(
            tenant_id=TENANT_ID,
            name="Demo Seller",
            time_zone="Europe/Rome",
            languages=["en", "it", "de", "fr", "es"],
            created_at=now,
        )
    )
    repository.put_sla_policy(
        SlaPolicy(
            tenant_id=TENANT_ID,
            policy_id="demo-fast",
            name="Demo: answer within minutes",
            target=SlaTarget(
                first_response_minutes=first_response_minutes, next_response_minutes=first_response_minutes
            ),
        )
    )
    secret_name = f"helpdesk/{TENANT_ID}/{STORE_ID}"
    secrets_client.create_secret(Name=secret_name, SecretString=json.dumps({"webhook_secret": WEBHOOK_SECRET}))
    store = Store(
        tenant_id=TENANT_ID,
        store_id=STORE_ID,
        channel=Channel.WOOCOMMERCE,
        display_name="Demo WooCommerce shop",
        default_language="en",
        brand_signature="— The Demo Shop team",
        base_url="https://demo-shop.example",
        greetings={"en": "Hello", "it": "Buongiorno", "de": "Hallo", "fr": "Bonjour", "es": "Hola"},
        signatures={
            "it": "— Il team di Demo Shop",
            "de": "— Ihr Demo-Shop-Team",
            "fr": "— L'équipe Demo Shop",
            "es": "— El equipo de Demo Shop",
        },
        secret_name=secret_name,
        sla_policy_id="demo-fast",
        created_at=now,
    )
    repository.put_store(store)
    seed_routing(repository, first_response_minutes)
    return store


def seed_routing(repository: DynamoRepository, first_response_minutes: int) -> None:
    """The demo seller's routing: a team of three agents with their languages, cancellations first
    (shortest SLA, urgent, round-robin to a speaker of the buyer's language), everything else on the
    standard target."""
    from helpdesk.core.models import Agent, AgentRole, Intent, Team
    from helpdesk.routing.rule_schema import RoutingRule
    from helpdesk.sla.policies import SlaPolicySpec

    repository.put_policy_spec(
        TENANT_ID,
        SlaPolicySpec(
            policy_id="standard",
            name="Standard",
            first_response_minutes=first_response_minutes * 2,
            next_response_minutes=first_response_minutes * 2,
        ),
    )
    repository.put_policy_spec(
        TENANT_ID,
        SlaPolicySpec(
            policy_id="cancellations",
            name="Cancellations first",
            first_response_minutes=first_response_minutes,
            next_response_minutes=first_response_minutes,
            intents=[Intent.CANCELLATION],
        ),
    )
    repository.put_rule(
        RoutingRule.model_validate(
            {
                "tenant_id": TENANT_ID,
                "rule_id": "cancellations",
                "name": "Cancellations: urgent, to a speaker",
                "position": 1,
                "conditions": [{"field": "intent", "op": "eq", "value": "cancellation"}],
                "actions": [
                    {"type": "set_priority", "value": "urgent"},
                    {"type": "assign_round_robin", "value": "support"},
                ],
            }
        )
    )
    repository.put_rule(
        RoutingRule.model_validate(
            {
                "tenant_id": TENANT_ID,
                "rule_id": "everything-else",
                "name": "Everything else: least loaded speaker",
                "position": 2,
                "conditions": [{"field": "intent", "op": "ne", "value": "cancellation"}],
                "actions": [{"type": "assign_least_loaded", "value": "support"}],
            }
        )
    )
    repository.put_team(Team(tenant_id=TENANT_ID, team_id="support", name="Support", time_zone="Europe/Rome"))
    for agent_id, name, languages in (
        (AGENT_ID, "Ada", ["en", "it", "fr"]),
        ("agent-bernd", "Bernd", ["de", "en"]),
        ("agent-lucia", "Lucía", ["es", "en"]),
    ):
        repository.put_agent(
            Agent(
                tenant_id=TENANT_ID,
                agent_id=agent_id,
                name=name,
                email=f"{agent_id}@demo-seller.example",
                languages=languages,
                team_ids=["support"],
                role=AgentRole.ADMIN if agent_id == AGENT_ID else AgentRole.AGENT,
            )
        )
    seed_macros(repository)


AGENT_IDS = (AGENT_ID, "agent-bernd", "agent-lucia")


def seed_macros(repository: DynamoRepository) -> None:
    """Canned answers in the demo's languages, with order placeholders (``helpdesk.replies.macros``)."""
    from helpdesk.adapters.outbound import DynamoMacros
    from helpdesk.replies.macros import MacroSpec

    macros = DynamoMacros(repository._db, repository._table)
    wismo = MacroSpec(
        name="Where is my order",
        tags=["wismo", "wismo-answered"],
        bodies={
            "en": "Hello {{ customer.first_name }},\n\nyour order {{ order.ref }} is {{ order.status }}"
            "{% if order.tracking_url %}; you can follow it here: {{ order.tracking_url }}{% endif %}.\n\n"
            "{{ agent.first_name }}",
            "de": "Hallo {{ customer.first_name }},\n\nIhre Bestellung {{ order.ref }} ist {{ order.status }}"
            "{% if order.tracking_url %}; Sie können sie hier verfolgen: {{ order.tracking_url }}{% endif %}.\n\n"
            "{{ agent.first_name }}",
            "it": "Buongiorno {{ customer.first_name }},\n\nil suo ordine {{ order.ref }} è {{ order.status }}"
            "{% if order.tracking_url %}; può seguirlo qui: {{ order.tracking_url }}{% endif %}.\n\n"
            "{{ agent.first_name }}",
            "fr": "Bonjour {{ customer.first_name }},\n\nvotre commande {{ order.ref }} est {{ order.status }}"
            "{% if order.tracking_url %} ; suivi : {{ order.tracking_url }}{% endif %}.\n\n{{ agent.first_name }}",
        },
    )
    cancelled = MacroSpec(
        name="Cancellation confirmed",
        tags=["cancellation-confirmed"],
        bodies={
            "en": "Hello {{ customer.first_name }},\n\nwe have cancelled order {{ order.ref }}; the refund follows "
            "within 5 working days.\n\n{{ agent.first_name }}",
            "de": "Hallo {{ customer.first_name }},\n\nwir haben die Bestellung {{ order.ref }} storniert; die "
            "Erstattung folgt innerhalb von 5 Werktagen.\n\n{{ agent.first_name }}",
            "it": "Buongiorno {{ customer.first_name }},\n\nabbiamo annullato l'ordine {{ order.ref }}; il rimborso "
            "arriverà entro 5 giorni lavorativi.\n\n{{ agent.first_name }}",
            "fr": "Bonjour {{ customer.first_name }},\n\nnous avons annulé la commande {{ order.ref }} ; le "
            "remboursement suivra sous 5 jours ouvrés.\n\n{{ agent.first_name }}",
        },
    )
    macros.put_macro(wismo.to_macro(TENANT_ID, "wismo"))
    macros.put_macro(cancelled.to_macro(TENANT_ID, "cancellation-confirmed"))
    from helpdesk.replies.drafting import PolicySnippet

    repository.put_snippets(
        TENANT_ID,
        [
            PolicySnippet(
                snippet_id="returns",
                title="Returns",
                intents=["return_refund", "damaged_wrong_item"],
                text="Buyers may return any item within 30 days of delivery; we send a prepaid label. "
                "Refunds are made within 5 working days of the return's arrival.",
            ),
            PolicySnippet(
                snippet_id="cancellations",
                title="Cancellations",
                intents=["cancellation"],
                text="Orders can be cancelled free of charge until they ship; after that, as a return.",
            ),
        ],
    )


def order_payload(order_id: int, buyer: tuple[str, str, str], when: datetime) -> dict[str, Any]:
    order = copy.deepcopy(json.loads(SAMPLE.read_text()))
    name, email, note = buyer
    first, _, last = name.partition(" ")
    order.update(
        id=order_id,
        number=str(order_id),
        order_key=f"wc_order_{order_id:013x}",
        customer_note=note,
        date_created=when.strftime("%Y-%m-%dT%H:%M:%S"),
        date_created_gmt=when.strftime("%Y-%m-%dT%H:%M:%S"),
        date_modified=when.strftime("%Y-%m-%dT%H:%M:%S"),
        date_modified_gmt=when.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    order["billing"].update(first_name=first, last_name=last, email=email)
    order["shipping"].update(first_name=first, last_name=last)
    for link in order["_links"]["self"]:
        link["href"] = f"https://demo-shop.example/wp-json/wc/v3/orders/{order_id}"
    return order


def signed_headers(body: bytes, secret: str, topic: str, delivery_id: int, webhook_id: int = 12) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    resource, event = topic.split(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
        "X-WC-Webhook-Source": "https://demo-shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": str(delivery_id),
    }


class SimulatedWooCommerceShop:
    """Posts an ``order.created`` webhook with a buyer's note every ``interval`` seconds."""

    def __init__(self, webhook_url: str, interval: float = 20.0, seed_value: int = 7) -> None:
        self.webhook_url = webhook_url
        self.interval = interval
        self._random = random.Random(seed_value)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_order = 1000
        self.sent: list[int] = []
        self.last_order: int | None = None

    def post_order(self) -> httpx.Response:
        self._next_order += 1
        buyer = BUYER_NOTES[(self._next_order - 1001) % len(BUYER_NOTES)]
        when = datetime.now(UTC) - timedelta(seconds=self._random.randint(0, 30))
        body = json.dumps(order_payload(self._next_order, buyer, when)).encode()
        headers = signed_headers(body, WEBHOOK_SECRET, "order.created", delivery_id=50000 + self._next_order)
        response = httpx.post(self.webhook_url, content=body, headers=headers, timeout=10)
        self.sent.append(response.status_code)
        if response.status_code == 202:
            self.last_order = self._next_order
        return response

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="simulated-woocommerce")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.post_order()
                print(f"[shop] order #{self._next_order} webhook → HTTP {response.status_code}", flush=True)
            except httpx.HTTPError as exc:
                print(f"[shop] webhook failed: {exc}", flush=True)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


MARKETPLACES = {"mirakl-fr": "Marketplace FR", "mirakl-de": "Marktplatz DE", "mirakl-it": "Marketplace IT"}


def seed_marketplaces(
    repository: DynamoRepository, secrets_client: Any, server_url: str, api_keys: dict[str, str]
) -> list[Store]:
    """The demo seller's Mirakl marketplaces, each at the simulated server with its own shop key."""
    now = datetime.now(UTC)
    stores = []
    for store_id, name in MARKETPLACES.items():
        secret_name = f"helpdesk/{TENANT_ID}/{store_id}"
        secrets_client.create_secret(Name=secret_name, SecretString=json.dumps({"api_key": api_keys[store_id]}))
        store = Store(
            tenant_id=TENANT_ID,
            store_id=store_id,
            channel=Channel.MIRAKL,
            display_name=name,
            default_language=store_id.rsplit("-", 1)[-1],
            base_url=f"{server_url}/{store_id}",
            secret_name=secret_name,
            sla_policy_id="demo-fast",
            created_at=now,
        )
        repository.put_store(store)
        stores.append(store)
    return stores


class MarketplaceTraffic:
    """Buyers writing on the simulated marketplaces every ``interval`` seconds."""

    def __init__(self, marketplaces: Any, interval: float) -> None:
        self._marketplaces = marketplaces
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="simulated-marketplaces")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            market, order_id = self._marketplaces.new_buyer_message()
            print(f"[{market}] a buyer wrote about order {order_id}", flush=True)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


MAIL_STORE_ID = "mail-demo"


def seed_mailbox(repository: DynamoRepository) -> Store:
    """The demo seller's support mailbox: an e-mail store linked to the WooCommerce shop, so a buyer's
    e-mail about a shop order joins that order's ticket."""
    store = Store(
        tenant_id=TENANT_ID,
        store_id=MAIL_STORE_ID,
        channel=Channel.EMAIL,
        display_name="Support mailbox",
        default_language="en",
        linked_store_ids=[STORE_ID],
        sla_policy_id="demo-fast",
        created_at=datetime.now(UTC),
    )
    repository.put_store(store)
    return store


def buyer_email_about(order_id: int) -> tuple[tuple[str, str], str, str]:
    """(sender, subject, body) of the buyer of a simulated order writing about it by e-mail."""
    name, email, _ = BUYER_NOTES[(order_id - 1001) % len(BUYER_NOTES)]
    return (
        (name, email),
        f"Order #{order_id}",
        (f"Hello, I wrote a note at checkout for order #{order_id}. Could you confirm you saw it?\n\nThanks,\n{name}"),
    )


class MailTraffic:
    """Every ``interval`` seconds the buyer of the shop's latest order e-mails the support mailbox
    about it (through the local SES stand-in)."""

    def __init__(self, deliver: Any, shop: SimulatedWooCommerceShop, interval: float) -> None:
        self._deliver = deliver
        self._shop = shop
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="simulated-mail")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            order_id = self._shop.last_order
            if order_id is None:
                continue
            try:
                self._deliver(order_id)
                print(f"[mail] the buyer of order #{order_id} wrote to the support mailbox", flush=True)
            except Exception as exc:  # noqa: BLE001 - a demo loop keeps going
                print(f"[mail] delivery failed: {exc}", flush=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

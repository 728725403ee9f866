"""Simulated Mirakl marketplaces for the local stack: a real HTTP server (on 127.0.0.1) that answers
M11 (inbox threads, ``updated_since`` + seek paging), OR11 (orders by id) and M12 (reply) in Mirakl's
documented format — the recorded samples under ``samples/mirakl`` with fresh ids, dates and buyers.

Each marketplace lives under ``/<marketplace>/api/...`` with its own shop API key; the stores of the
demo seller point their ``base_url`` at ``http://127.0.0.1:<port>/<marketplace>``, so the real
connector and the real poller talk HTTP to it exactly as they would to a marketplace.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from infrastructure.local.template import ROOT

SAMPLES = ROOT / "infrastructure/local/samples/mirakl"
PAGE_LIMIT_MAX = 100

# (buyer, language, subject, first message) — what marketplace buyers write, in the seeds' languages.
BUYER_MESSAGES = [
    (
        "Lukas Weber",
        "de",
        "Stornierung",
        "Guten Tag, bitte stornieren Sie meine Bestellung {order}. Ich habe versehentlich zweimal bestellt.",
    ),
    (
        "Camille Martin",
        "fr",
        "Où est ma commande ?",
        "Bonjour, ma commande {order} n'est toujours pas arrivée. Pouvez-vous me donner le numéro de suivi ?",
    ),
    (
        "Giulia Bianchi",
        "it",
        "Articolo danneggiato",
        "Buongiorno, il pacco dell'ordine {order} è arrivato danneggiato. Come posso fare il reso?",
    ),
    ("Lucía García", "es", "Cambio de dirección", "Hola, ¿puedo cambiar la dirección de entrega del pedido {order}?"),
    ("Smith Taylor", "en", "Invoice request", "Hello, could you send me the invoice for order {order}? Thanks."),
]


@dataclass
class Marketplace:
    name: str
    api_key: str
    shop_name: str
    threads: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SimulatedMarketplaces:
    """An ASGI app serving several Mirakl marketplaces; ``new_buyer_message`` adds traffic."""

    def __init__(self, names: list[str], seed_value: int = 11) -> None:
        # Other local simulations (the demo mailbox) can hang a control endpoint here.
        self.controls: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = {}
        self._random = random.Random(seed_value)
        self._lock = threading.Lock()
        self._thread_template = json.loads((SAMPLES / "m11_threads_page1.json").read_text())["data"][0]
        self._order_template = json.loads((SAMPLES / "or11_orders.json").read_text())["orders"][0]
        self.marketplaces = {n: Marketplace(n, f"demo-key-{n}", f"Demo Seller on {n}") for n in names}
        self._order_number = 2000

    # --- traffic ------------------------------------------------------------------------------

    def new_buyer_message(self, marketplace: str | None = None) -> tuple[str, str]:
        """A buyer opens a thread about a new order; returns (marketplace, order id)."""
        with self._lock:
            market = self.marketplaces[marketplace or self._random.choice(sorted(self.marketplaces))]
            self._order_number += 1
            order_id = f"MP{self._order_number}-A"
            buyer, _, subject, text = BUYER_MESSAGES[self._order_number % len(BUYER_MESSAGES)]
            customer_id = f"cust-{self._order_number}"
            stamp = _now()
            thread = copy.deepcopy(self._thread_template)
            customer = {"display_name": buyer, "id": customer_id, "type": "CUSTOMER"}
            shop = {"display_name": market.shop_name, "id": "2001", "type": "SHOP"}
            message = {
                "attachments": [],
                "body": text.format(order=order_id),
                "date_created": stamp,
                "from": {"display_name": buyer, "organization_details": customer, "type": "CUSTOMER_USER"},
                "id": str(uuid.uuid4()),
                "to": [shop],
            }
            thread.update(
                id=str(uuid.uuid4()),
                date_created=stamp,
                date_updated=stamp,
                authorized_participants=[shop, customer, {"display_name": "Operator", "type": "OPERATOR"}],
                current_participants=[shop, customer],
                entities=[{"id": order_id, "label": order_id.removesuffix("-A"), "type": "MMP_ORDER"}],
                messages=[message],
                topic={"type": "FREE_TEXT", "value": subject},
                metadata={
                    "last_message_date": stamp,
                    "last_sender": message["from"],
                    "shop_reply_needed_since": stamp,
                    "total_count": 1,
                },
            )
            market.threads.append(thread)
            market.orders[order_id] = self._order(order_id, buyer, customer_id)
            return market.name, order_id

    def _order(self, order_id: str, buyer: str, customer_id: str) -> dict[str, Any]:
        order = copy.deepcopy(self._order_template)
        first, _, last = buyer.partition(" ")
        order.update(
            order_id=order_id, commercial_id=order_id.removesuffix("-A"), created_date=_now(), last_updated_date=_now()
        )
        customer = order.get("customer")
        if isinstance(customer, dict):
            customer.update(customer_id=customer_id, firstname=first, lastname=last)
        return order

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        status, payload = self.handle(
            scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body
        )
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method == "POST" and path in self.controls:
            try:
                payload = json.loads(body or b"{}")
            except json.JSONDecodeError:
                return 400, {"message": "body is not JSON"}
            return self.controls[path](payload if isinstance(payload, dict) else {})
        if method == "GET" and path == "/_simulate/replies":  # what the sellers answered (demo control)
            wanted = parse_qs(query).get("marketplace", [None])[0]
            with self._lock:
                return 200, {
                    "replies": [
                        {"marketplace": m.name, **reply}
                        for m in self.marketplaces.values()
                        if wanted in (None, m.name)
                        for reply in m.replies
                    ]
                }
        if method == "POST" and path == "/_simulate/buyer-message":  # local demo control, not Mirakl's API
            wanted = parse_qs(query).get("marketplace", [None])[0]
            if wanted is not None and wanted not in self.marketplaces:
                return 404, {"message": "no such marketplace"}
            market_name, order_id = self.new_buyer_message(wanted)
            return 201, {"marketplace": market_name, "order_id": order_id}
        parts = path.strip("/").split("/", 1)
        market = self.marketplaces.get(parts[0]) if parts else None
        rest = "/" + parts[1] if len(parts) > 1 else "/"
        if market is None:
            return 404, {"message": "no such marketplace"}
        if headers.get("authorization") != market.api_key:
            return 401, {"message": "Unauthorized: invalid API key"}
        params = {k: v[0] for k, v in parse_qs(query).items()}
        with self._lock:
            if method == "GET" and rest == "/api/inbox/threads":
                return 200, self._threads(market, params)
            if method == "GET" and rest == "/api/orders":
                ids = [i for i in params.get("order_ids", "").split(",") if i]
                found = [market.orders[i] for i in ids if i in market.orders]
                return 200, {"orders": found, "total_count": len(found)}
            if method == "GET" and rest == "/api/account":
                return 200, {"shop_id": 2001, "shop_name": market.shop_name, "shop_state": "OPEN"}
            if method == "POST" and rest.startswith("/api/inbox/threads/") and rest.endswith("/message"):
                thread_id = rest.split("/")[4]
                if not any(t["id"] == thread_id for t in market.threads):
                    return 404, {"message": f"thread {thread_id} not found"}
                message_id = str(uuid.uuid4())
                market.replies.append(
                    {
                        "thread_id": thread_id,
                        "message_id": message_id,
                        "raw": body.decode("utf-8", "replace")[:2000],
                        "at": time.time(),
                    }
                )
                return 201, {"message_id": message_id, "thread_id": thread_id}
        return 404, {"message": f"{method} {rest} is not simulated"}

    @staticmethod
    def _threads(market: Marketplace, params: dict[str, str]) -> dict[str, Any]:
        since = params.get("updated_since")
        threads = sorted(market.threads, key=lambda t: t["date_updated"])
        if since:
            floor = datetime.fromisoformat(since.replace("Z", "+00:00"))
            threads = [t for t in threads if datetime.fromisoformat(t["date_updated"].replace("Z", "+00:00")) >= floor]
        limit = min(int(params.get("limit", "50")), PAGE_LIMIT_MAX)
        start = int(params.get("page_token", "0") or 0)
        page = threads[start : start + limit]
        token = str(start + limit) if start + limit < len(threads) else None
        return {"data": page, "next_page_token": token}

"""End to end: start the local stack exactly as `make run` does, then drive the slice over HTTP.

Signed WooCommerce webhook → ticket listed in the SLA-sorted queue → ticket with its message →
SLA breach recorded when the due time passes unanswered.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from infrastructure.local import demo
from infrastructure.local.stack import free_port
from tests.conftest import ROOT, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Any:
    info_file = tmp_path_factory.mktemp("local") / "info.json"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{ROOT}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infrastructure.local.run",
            "--port",
            str(port),
            "--shop-interval",
            "0",
            "--marketplace-interval",
            "0",
            "--mail-interval",
            "0",
            "--poll-seconds",
            "2",
            "--sla-minutes",
            "1",
            "--info-file",
            str(info_file),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not info_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"local stack did not start:\n{process.stdout.read() if process.stdout else ''}")
            time.sleep(0.2)
        yield json.loads(Path(info_file).read_text())
    finally:
        process.send_signal(2)  # Ctrl-C
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # the stack prints every thread's stack: what hung
            time.sleep(2)
            process.kill()
            output, _ = process.communicate()
        assert "stopped." in output, output[-6000:]


def _post_order(info: dict[str, Any], order_id: int, note: str, created: datetime) -> httpx.Response:
    payload = demo.order_payload(order_id, ("Lukas Weber", "lukas.weber@example.de", note), created)
    body = json.dumps(payload).encode()
    headers = demo.signed_headers(body, info["webhook_secret"], "order.created", delivery_id=order_id)
    return httpx.post(info["webhook_url"], content=body, headers=headers, timeout=10)


def buyer(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline without the system events (routing, aging) the intake writes asynchronously."""
    return [m for m in view["messages"] if m["direction"] != "event"]


def test_webhook_to_sorted_queue_to_breach(local: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {local['agent_token']}"}
    api = local["api"]
    now = datetime.now(UTC)
    # Ordered (and so received) 50 s ago with a 1-minute SLA: due in ~10 s.
    cancel = _post_order(local, 9001, "Bitte stornieren Sie meine Bestellung.", now - timedelta(seconds=50))
    assert cancel.status_code == 202
    assert _post_order(local, 9002, "Wann kommt mein Paket?", now).status_code == 202

    def queue() -> list[dict[str, Any]]:
        response = httpx.get(f"{api}/tickets", headers=auth, timeout=10)
        assert response.status_code == 200
        tickets = [t for t in response.json()["tickets"] if t["channel"] == "woocommerce"]
        return tickets if len(tickets) == 2 else []

    tickets = eventually(queue, "two tickets in the queue", 20, interval=0.3)
    assert [t["order_refs"] for t in tickets] == [["9001"], ["9002"]]  # soonest SLA due first
    due = [t["first_response_due_at"] for t in tickets]
    assert due == sorted(due)

    first = tickets[0]["ticket_id"]
    view = httpx.get(f"{api}/tickets/{first}", headers=auth, timeout=10).json()
    assert buyer(view)[0]["body"] == "Bitte stornieren Sie meine Bestellung."
    assert buyer(view)[0]["channel"] == "woocommerce"

    # Unauthenticated agents get nothing; a bad signature is refused.
    assert httpx.get(f"{api}/tickets", timeout=10).status_code == 401
    forged = httpx.post(
        local["webhook_url"],
        content=b"{}",
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": "Zm9yZ2Vk",
        },
        timeout=10,
    )
    assert forged.status_code == 401

    def breached() -> dict[str, Any] | None:
        ticket = httpx.get(f"{api}/tickets/{first}", headers=auth, timeout=10).json()["ticket"]
        return ticket if ticket["sla_breached_at"] else None

    ticket = eventually(breached, "the SLA breach to be recorded", 40, interval=0.3)
    breached_at = datetime.fromisoformat(ticket["sla_breached_at"])
    due_at = datetime.fromisoformat(ticket["first_response_due_at"])
    # moto's Wait counts whole seconds (int(due - now)), so it may fire up to 1 s early.
    assert breached_at >= due_at - timedelta(seconds=1)
    later = httpx.get(f"{api}/tickets/{tickets[1]['ticket_id']}", headers=auth, timeout=10).json()["ticket"]
    assert later["sla_breached_at"] is None  # not due yet


def test_marketplace_buyer_message_is_polled_into_the_queue(local: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {local['agent_token']}"}
    written = httpx.post(local["simulate_buyer_message"], params={"marketplace": "mirakl-de"}, timeout=10)
    assert written.status_code == 201
    order_id = written.json()["order_id"]

    def polled() -> dict[str, Any] | None:
        answer = httpx.get(f"{local['api']}/tickets", params={"limit": 100}, headers=auth, timeout=10)
        tickets = answer.json()["tickets"]
        return next((t for t in tickets if order_id in t["order_refs"]), None)

    ticket = eventually(polled, "the marketplace message to be polled into the queue", 30, interval=0.3)
    assert ticket["channel"] == "mirakl" and ticket["store_id"] == "mirakl-de"
    view = httpx.get(f"{local['api']}/tickets/{ticket['ticket_id']}", headers=auth, timeout=10).json()
    assert order_id in buyer(view)[0]["body"] and buyer(view)[0]["channel"] == "mirakl"

    stores = httpx.get(f"{local['api']}/stores", headers=auth, timeout=10).json()
    health = {s["store"]["store_id"]: s["health"] for s in stores}
    assert health["mirakl-de"] is not None and health["mirakl-de"]["consecutive_failures"] == 0


def test_buyer_email_about_a_shop_order_merges_into_its_ticket(local: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {local['agent_token']}"}
    api = local["api"]
    assert _post_order(local, 9101, "Bitte als Geschenk verpacken.", datetime.now(UTC)).status_code == 202

    def order_ticket() -> dict[str, Any] | None:
        answer = httpx.get(f"{api}/tickets", params={"limit": 100}, headers=auth, timeout=10).json()["tickets"]
        return next((t for t in answer if "9101" in t["order_refs"]), None)

    ticket = eventually(order_ticket, "the order's ticket", 20, interval=0.3)
    mailed = httpx.post(local["simulate_email"], json={"order_id": 9101}, timeout=20)
    assert mailed.status_code == 201 and mailed.json()["outcomes"][0]["messages"] == 1

    def merged() -> dict[str, Any] | None:
        view = httpx.get(f"{api}/tickets/{ticket['ticket_id']}", headers=auth, timeout=10).json()
        return view if len(buyer(view)) == 2 else None

    view = eventually(merged, "the e-mail to join the order's ticket", 20, interval=0.3)
    assert [m["channel"] for m in buyer(view)] == ["woocommerce", "email"]
    assert "#9101" in buyer(view)[1]["body"]


def test_agents_work_a_marketplace_ticket_through_the_api(local: dict[str, Any]) -> None:
    """Issue 5's walk: an agent lists the queue, opens a ticket, sees the order, replies with a
    macro; a second agent sees the collision and is refused a reply on a stale view; the reply
    reaches the simulated marketplace and the ticket's first response time is recorded."""
    api = local["api"]
    ada = {"Authorization": f"Bearer {local['agent_tokens']['agent-ada']}"}
    bernd = {"Authorization": f"Bearer {local['agent_tokens']['agent-bernd']}"}
    written = httpx.post(local["simulate_buyer_message"], params={"marketplace": "mirakl-fr"}, timeout=10)
    assert written.status_code == 201
    order_id = written.json()["order_id"]

    def listed() -> dict[str, Any] | None:
        page = httpx.get(f"{api}/tickets", params={"limit": 100}, headers=ada, timeout=10).json()
        return next((t for t in page["tickets"] if order_id in t["order_refs"]), None)

    ticket = eventually(listed, "the marketplace ticket in the queue", 30, interval=0.3)
    ticket_id = ticket["ticket_id"]

    def opened() -> dict[str, Any] | None:
        detail = httpx.get(f"{api}/tickets/{ticket_id}", headers=ada, timeout=10).json()
        routed = detail["ticket"]["intent"] is not None  # the intake decided (intent, language, SLA)
        return detail if routed and detail["order"]["order_status"] == "found" else None

    # The order is fetched by the intake.
    detail = eventually(opened, "the routed ticket with its order", 20, interval=0.3)
    assert detail["order"]["order"]["order_ref"] == order_id
    assert detail["order"]["order"]["items"], "the order's items are shown"
    last_seen = max(m["message_id"] for m in detail["messages"] if m["direction"] != "event")

    # Ada starts typing; Bernd, opening the same ticket, sees her.
    assert (
        httpx.post(f"{api}/tickets/{ticket_id}/presence", json={"typing": True}, headers=ada, timeout=10).status_code
        == 200
    )
    seen_by_bernd = httpx.get(f"{api}/tickets/{ticket_id}", headers=bernd, timeout=10).json()
    assert {"agent_id": "agent-ada", "typing": True} in [
        {"agent_id": v["agent_id"], "typing": v["typing"]} for v in seen_by_bernd["viewers"]
    ]

    # Bernd reads German and English only: other buyer messages come with their translation, which on
    # the local stack (no Amazon Translate in moto) says plainly that it is not one.
    language = detail["ticket"]["language"]
    for message in (m for m in seen_by_bernd["messages"] if m["direction"] == "inbound"):
        if (message["language"] or language) in ("de", "en"):
            assert message["translation"] is None
        else:
            assert message["translation"]["translated"] is False and message["translation"]["provider"] == "none"

    # A first draft in the buyer's language (the offline drafter: the seller's WISMO macro or its own).
    drafted = httpx.post(f"{api}/tickets/{ticket_id}/draft", json={}, headers=ada, timeout=10)
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["language"] == language and drafted.json()["created_by"] == "agent-ada"

    preview = httpx.get(f"{api}/tickets/{ticket_id}/macros/wismo/preview", headers=ada, timeout=10).json()
    # The macro speaks the buyer's language, as detected from what they wrote (the demo's buyers write
    # in German, French, Italian, Spanish or English whatever the marketplace).
    assert preview["language"] == detail["ticket"]["language"] and order_id in preview["body"]
    reply = httpx.post(
        f"{api}/tickets/{ticket_id}/replies",
        headers=ada,
        timeout=10,
        json={"macro_id": "wismo", "body": preview["body"], "last_seen_message_id": last_seen},
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["delivery_status"] == "queued"

    # Bernd answers from the view he read before Ada's reply: refused, nothing sent twice.
    stale = httpx.post(
        f"{api}/tickets/{ticket_id}/replies",
        headers=bernd,
        timeout=10,
        json={"body": "Bonjour, je regarde.", "last_seen_message_id": last_seen},
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_timeline"

    def sent() -> dict[str, Any] | None:
        view = httpx.get(f"{api}/tickets/{ticket_id}", headers=ada, timeout=10).json()
        ours = next(m for m in view["messages"] if m["message_id"] == reply.json()["message_id"])
        return view if ours["delivery_status"] == "sent" else None

    view = eventually(sent, "the reply to be sent", 30, interval=0.3)
    ours = next(m for m in view["messages"] if m["message_id"] == reply.json()["message_id"])
    received = httpx.get(local["simulated_replies"], params={"marketplace": "mirakl-fr"}, timeout=10).json()
    delivered = [r for r in received["replies"] if r["message_id"] == ours["channel_message_id"]]
    assert len(delivered) == 1 and order_id in delivered[0]["raw"]
    first_response = datetime.fromisoformat(view["ticket"]["first_responded_at"])
    assert first_response == datetime.fromisoformat(ours["sent_at"])
    assert first_response > datetime.fromisoformat(view["ticket"]["created_at"])
    assert view["ticket"]["status"] == "waiting_on_customer"

    # The contract the inbox was built on is served by the stack itself.
    docs = httpx.get(local["swagger"], timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = httpx.get(local["swagger"], params={"format": "json"}, timeout=10).json()
    assert "/tickets/{ticket_id}/replies" in spec["paths"]

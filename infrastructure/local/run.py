"""`make run`: the whole helpdesk on this machine, no AWS account, no Docker.

moto (server mode) with template.yaml's resources, the HTTP routes under uvicorn, the SQS event
sources polled in-process, a demo seller and a simulated WooCommerce shop posting signed webhooks.
Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from helpdesk.adapters.aws import EventBridgePollScheduler
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.platform import config
from infrastructure.local import demo, mailbox, tokens
from infrastructure.local.http import LocalHttpApi, Route
from infrastructure.local.marketplaces import SimulatedMarketplaces
from infrastructure.local.stack import LocalStack, free_port
from infrastructure.local.template import http_routes


class LocalSystem:
    def __init__(
        self,
        http_port: int | None = None,
        moto_port: int | None = None,
        sla_minutes: int = 2,
        poll_seconds: float = 15.0,
    ) -> None:
        self.stack = LocalStack(port=moto_port)
        self.poll_seconds = poll_seconds
        self.marketplaces = SimulatedMarketplaces(list(demo.MARKETPLACES))
        self.marketplace_port = free_port()
        self.marketplace_url = f"http://127.0.0.1:{self.marketplace_port}"
        self._servers: list[tuple[uvicorn.Server, threading.Thread]] = []
        self.http_port = http_port or free_port()
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.jwt_key = secrets.token_bytes(32)
        self.sla_minutes = sla_minutes

    def start(self) -> LocalSystem:
        self.stack.start()
        # Links the system writes into messages (satisfaction ratings) point at this local API.
        os.environ["API_URL"] = self.base_url
        config.reset()
        repository = DynamoRepository(self.stack.client("dynamodb"), self.table_name)
        secrets_client = self.stack.client("secretsmanager")
        demo.seed(repository, secrets_client, first_response_minutes=self.sla_minutes)
        self._serve(self.marketplaces, self.marketplace_port, "simulated-mirakl")
        demo.seed_marketplaces(
            repository,
            secrets_client,
            self.marketplace_url,
            {m.name: m.api_key for m in self.marketplaces.marketplaces.values()},
        )
        demo.seed_mailbox(repository)
        self.marketplaces.controls["/_simulate/email"] = self._simulated_email
        poller = self.stack.functions["PollerFunction"]
        EventBridgePollScheduler(
            self.stack.client("scheduler"),
            poller.name,
            self.stack.resolver.refs.get("PollSchedulerRole", "local-role"),
            aging_arn=self.stack.functions["AgingFunction"].name,
        ).ensure_tenant_schedule(demo.TENANT_ID)
        routes = [
            Route(r["method"], r["path"], self.stack.functions[r["function"]].invoke, r["jwt"])
            for r in http_routes(self.stack.template)
        ]
        self._serve(LocalHttpApi(routes, self.jwt_key), self.http_port, "local-http")
        if self.poll_seconds > 0:
            self.stack.run_scheduler_schedules(self.poll_seconds)
        return self

    @property
    def mail_address(self) -> str:
        return f"{demo.TENANT_ID}+{demo.MAIL_STORE_ID}@{mailbox.INBOUND_DOMAIN}"

    def email_about_order(self, order_id: int) -> dict[str, Any]:
        sender, subject, body = demo.buyer_email_about(order_id)
        _, raw = mailbox.compose(sender, self.mail_address, subject, body)
        return mailbox.deliver(self.stack, raw, [self.mail_address], source=sender[1])

    def _simulated_email(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """Local demo control: a buyer e-mails the support mailbox (``order_id`` names a shop order, or
        ``from``/``subject``/``body`` give the whole message)."""
        if "order_id" in payload:
            return 201, self.email_about_order(int(payload["order_id"]))
        sender = (str(payload.get("name") or "Buyer"), str(payload.get("from") or "buyer@example.com"))
        _, raw = mailbox.compose(
            sender, self.mail_address, str(payload.get("subject") or "Question"), str(payload.get("body") or "Hello")
        )
        return 201, mailbox.deliver(self.stack, raw, [self.mail_address], source=sender[1])

    def _serve(self, app: Any, port: int, name: str) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True, name=name)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.05)
        self._servers.append((server, thread))

    def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        for _, thread in self._servers:
            thread.join(timeout=10)
        self.stack.stop()

    @property
    def table_name(self) -> str:
        return self.stack.resolver.refs["HelpdeskTable"]

    def agent_token(self, agent_id: str = demo.AGENT_ID, tenant_id: str = demo.TENANT_ID, role: str = "admin") -> str:
        return tokens.issue(self.jwt_key, tenant_id=tenant_id, agent_id=agent_id, role=role)

    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/{demo.TENANT_ID}/woocommerce/{demo.STORE_ID}"

    def info(self) -> dict[str, Any]:
        return {
            "api": self.base_url,
            "moto": self.stack.endpoint,
            "webhook_url": self.webhook_url(),
            "agent_token": self.agent_token(),
            "agent_tokens": {agent_id: self.agent_token(agent_id, role="agent") for agent_id in demo.AGENT_IDS},
            "simulated_replies": f"{self.marketplace_url}/_simulate/replies",
            "swagger": f"{self.base_url}/swagger",
            "tenant_id": demo.TENANT_ID,
            "store_id": demo.STORE_ID,
            "webhook_secret": demo.WEBHOOK_SECRET,
            "sla_events_queue_url": self.stack.resolver.refs["SlaEventsQueue"],
            "table": self.table_name,
            "marketplaces": {store_id: f"{self.marketplace_url}/{store_id}" for store_id in demo.MARKETPLACES},
            "simulate_buyer_message": f"{self.marketplace_url}/_simulate/buyer-message",
            "simulate_email": f"{self.marketplace_url}/_simulate/email",
            "mail_address": self.mail_address,
        }


def watch_sla_events(system: LocalSystem, stop: threading.Event) -> None:
    """Print SLA events (breaches) as the timers record them."""
    sqs = system.stack.client("sqs")
    url = system.stack.resolver.refs["SlaEventsQueue"]
    while not stop.is_set():
        try:
            response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        except Exception:  # noqa: BLE001 - shutting down
            return
        for message in response.get("Messages", []):
            event = json.loads(message["Body"])
            print(
                f"[sla] {event['type']}: ticket {event['ticket_id']} ({event['deadline']} due {event['due_at']})",
                flush=True,
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="HTTP port of the API (default 3000)")
    parser.add_argument("--moto-port", type=int, default=None, help="port of the local AWS (default: free)")
    parser.add_argument(
        "--shop-interval",
        type=float,
        default=20.0,
        help="seconds between simulated WooCommerce orders; 0 disables the shop",
    )
    parser.add_argument("--sla-minutes", type=int, default=2, help="demo first-response target in minutes")
    parser.add_argument(
        "--marketplace-interval",
        type=float,
        default=30.0,
        help="seconds between buyer messages on the simulated Mirakl marketplaces; 0 disables",
    )
    parser.add_argument(
        "--mail-interval",
        type=float,
        default=45.0,
        help="seconds between buyers' e-mails about the shop's latest order; 0 disables",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=15.0,
        help="seconds between two polls of the marketplaces (AWS: PollRateMinutes)",
    )
    parser.add_argument("--info-file", type=Path, default=None, help="write URLs and the demo token as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    system = LocalSystem(
        http_port=args.port, moto_port=args.moto_port, sla_minutes=args.sla_minutes, poll_seconds=args.poll_seconds
    ).start()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_sla_events, args=(system, stop), daemon=True)
    watcher.start()
    shop = None
    if args.shop_interval > 0:
        shop = demo.SimulatedWooCommerceShop(system.webhook_url(), interval=args.shop_interval)
    # The handler only records the request: setting a threading.Event from a signal handler can
    # deadlock when the signal lands while the main thread holds the event's lock.
    requested: list[int] = []

    def shutdown(signum: int, _frame: object) -> None:
        requested.append(signum)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack
    info = system.info()
    if args.info_file:
        # Written whole and then renamed, so a reader that sees the file never sees it half written.
        partial = args.info_file.with_name(args.info_file.name + ".partial")
        partial.write_text(json.dumps(info, indent=2))
        partial.replace(args.info_file)
    print(banner(info, args.sla_minutes), flush=True)
    if shop:
        shop.start()
    mail = None
    if shop and args.mail_interval > 0:
        mail = demo.MailTraffic(system.email_about_order, shop, args.mail_interval)
        mail.start()
    traffic = None
    if args.marketplace_interval > 0:
        traffic = demo.MarketplaceTraffic(system.marketplaces, args.marketplace_interval)
        traffic.start()

    while not requested:
        time.sleep(0.2)
    stop.set()
    print("\nstopping…", flush=True)
    if shop:
        shop.stop()
    if traffic:
        traffic.stop()
    if mail:
        mail.stop()
    system.stop()
    print("stopped.", flush=True)
    return 0


def banner(info: dict[str, Any], sla_minutes: int) -> str:
    token = info["agent_token"]
    agent_lines = "\n".join(
        f"  Agent token     {tok}   (agent, {agent_id})" for agent_id, tok in info.get("agent_tokens", {}).items()
    )
    return f"""
Helpdesk running locally (Ctrl-C stops everything)
  Agent API       {info["api"]}/tickets          (queue, soonest SLA due first)
                  {info["api"]}/tickets/{{id}}     (ticket with its messages)
  Webhook URL     {info["webhook_url"]}
  Local AWS       {info["moto"]}          (moto; dashboard at /moto-api/)
  Demo tenant     {info["tenant_id"]}, store {info["store_id"]} (WooCommerce), SLA {sla_minutes} min
  Marketplaces    {", ".join(info["marketplaces"])} (simulated Mirakl, polled by the real poller)
  Support mailbox {info["mail_address"]} (e-mail store linked to the shop; local SES)
  Stores          {info["api"]}/stores          (seller setup: connect, health, pause, disconnect)
  API docs        {info["swagger"]}         (OpenAPI; the same document is docs/openapi.json)
  Replies sent    {info["simulated_replies"]}   (what the marketplaces received from your agents)
  Agent token     {token}   (admin, {demo.AGENT_ID})
{agent_lines}

Try:
  curl -s -H "Authorization: Bearer {token}" {info["api"]}/tickets | python3 -m json.tool
  curl -s -X POST "{info["simulate_buyer_message"]}?marketplace=mirakl-de"   (a buyer writes on a marketplace)
  curl -s -X POST {info["simulate_email"]} -d '{{"order_id": 1001}}'   (that order's buyer e-mails you)

A simulated WooCommerce shop posts a signed order.created webhook with a buyer's note every few
seconds, its buyers e-mail the support mailbox about their orders (merged into the order's ticket),
and buyers write on three simulated Mirakl marketplaces; all land in the one queue.
Leave one unanswered for {sla_minutes} min and its SLA breach is printed.
"""


if __name__ == "__main__":
    sys.exit(main())

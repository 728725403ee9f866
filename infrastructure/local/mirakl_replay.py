"""The recorded Mirakl samples (M11 inbox threads, OR11 orders) answered at the httpx transport, their
April 2019 dates moved into the last hour, and a tenant with many Mirakl stores: for tests and benchmarks
that drive the real connector and poller against many marketplaces without a server (``respx``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from helpdesk.core.models import Channel, Store

SAMPLES = Path(__file__).resolve().parent / "samples/mirakl"
THREAD_PAGES = ("m11_threads_page1.json", "m11_threads_page2.json")
_RECORDED = re.compile(rb"2019-04-0\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_JSON = {"Content-Type": "application/json"}


def replayed_recently(names: tuple[str, ...] = THREAD_PAGES) -> dict[str, bytes]:
    """The recorded pages as if written in the last hour, in the same order (old dates would make every
    ticket's SLA timer fire at once)."""
    pages = {name: (SAMPLES / name).read_bytes() for name in names}
    stamps = sorted({stamp for page in pages.values() for stamp in _RECORDED.findall(page)})
    now = datetime.now(UTC).replace(microsecond=0)
    recent = {
        old: (now - timedelta(minutes=len(stamps) - i)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        for i, old in enumerate(stamps)
    }
    return {name: _RECORDED.sub(lambda match: recent[match.group(0)], page) for name, page in pages.items()}


class RecordedMarketplace:
    """A respx side effect answering M11 (two pages, followed by ``page_token``) and OR11 for any shop."""

    def __init__(self) -> None:
        self.pages = replayed_recently()
        self.orders = (SAMPLES / "or11_orders.json").read_bytes()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/inbox/threads":
            page = THREAD_PAGES[1] if request.url.params.get("page_token") else THREAD_PAGES[0]
            return httpx.Response(200, content=self.pages[page], headers=_JSON)
        if request.url.path == "/api/orders":
            return httpx.Response(200, content=self.orders, headers=_JSON)
        return httpx.Response(404, json={"message": "not found"})


def connect_marketplaces(secrets: Any, repo: Any, tenant_id: str, count: int) -> list[str]:
    """``count`` Mirakl stores ``mp000``… of the tenant, each with its shop API key (``key-<store>``) in
    Secrets Manager and its API at ``https://<store>.mirakl.example`` (answered by ``RecordedMarketplace``)."""
    store_ids = [f"mp{i:03d}" for i in range(count)]
    for i, store_id in enumerate(store_ids):
        name = f"helpdesk/{tenant_id}/{store_id}"
        secrets.create_secret(Name=name, SecretString=json.dumps({"api_key": f"key-{store_id}"}))
        repo.put_store(
            Store(
                tenant_id=tenant_id,
                store_id=store_id,
                channel=Channel.MIRAKL,
                display_name=f"Marketplace {i}",
                base_url=f"https://{store_id}.mirakl.example",
                secret_name=name,
                created_at=datetime.now(UTC),
            )
        )
    return store_ids

"""One poll tick over 130 Mirakl marketplaces, timed (the speed half of
tests/integration/test_mirakl_at_scale.py, which checks what the tick does and never how long it takes).

The real poller (``PollerFunction`` on the local stack: DynamoDB, S3, SQS and Secrets Manager on moto)
polls 130 stores whose Mirakl API is answered at the httpx transport with the recorded M11/OR11 pages.
Target: a tick ends well inside the tenant's poll rate (template.yaml ``PollRateMinutes``, 2 minutes), so
ticks never overlap. Prints the figures; asserts nothing.

    PYTHONPATH=shared:. .venv/bin/python -m bench.poll_tick      (make bench runs it)
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import respx

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "infrastructure/local/samples/mirakl"
STORES = 130
POLL_RATE_SECONDS = 120
_RECORDED = re.compile(rb"2019-04-0\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def _recent_pages() -> dict[str, bytes]:
    """The recorded threads (April 2019) as if written in the last hour, in the same order."""
    names = ("m11_threads_page1.json", "m11_threads_page2.json")
    pages = {name: (SAMPLES / name).read_bytes() for name in names}
    stamps = sorted({stamp for page in pages.values() for stamp in _RECORDED.findall(page)})
    now = datetime.now(UTC).replace(microsecond=0)
    recent = {
        old: (now - timedelta(minutes=len(stamps) - i)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        for i, old in enumerate(stamps)
    }
    return {name: _RECORDED.sub(lambda match: recent[match.group(0)], page) for name, page in pages.items()}


def main() -> None:
    from helpdesk.adapters.dynamodb import DynamoRepository
    from helpdesk.core.models import Channel, Store
    from infrastructure.local.stack import LocalStack

    pages = _recent_pages()
    orders = (SAMPLES / "or11_orders.json").read_bytes()

    def marketplace(request: httpx.Request) -> httpx.Response:
        json_headers = {"Content-Type": "application/json"}
        if request.url.path == "/api/inbox/threads":
            page = "m11_threads_page2.json" if request.url.params.get("page_token") else "m11_threads_page1.json"
            return httpx.Response(200, content=pages[page], headers=json_headers)
        if request.url.path == "/api/orders":
            return httpx.Response(200, content=orders, headers=json_headers)
        return httpx.Response(404, json={"message": "not found"})

    with LocalStack(stage="bench", poll_event_sources=False) as stack:
        repo = DynamoRepository(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
        secrets = stack.client("secretsmanager")
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        for i in range(STORES):
            store_id = f"mp{i:03d}"
            name = f"helpdesk/{tenant}/{store_id}"
            secrets.create_secret(Name=name, SecretString=json.dumps({"api_key": f"key-{store_id}"}))
            repo.put_store(
                Store(
                    tenant_id=tenant,
                    store_id=store_id,
                    channel=Channel.MIRAKL,
                    display_name=f"Marketplace {i}",
                    base_url=f"https://{store_id}.mirakl.example",
                    secret_name=name,
                    created_at=datetime.now(UTC),
                )
            )
        ticks = []
        for _ in range(2):  # the first tick reads everything; the second finds the same pages again
            with respx.mock(assert_all_mocked=True) as mock:
                mock.route(host__regex=r"mp\d{3}\.mirakl\.example").mock(side_effect=marketplace)
                started = time.perf_counter()
                result = stack.functions["PollerFunction"].invoke({"tenant_id": tenant})
                ticks.append((time.perf_counter() - started, result["tenants"][0]))
    print(f"## One poll tick over {STORES} Mirakl marketplaces (local stack on moto)\n")
    for label, (seconds, summary) in zip(("first tick", "second tick"), ticks, strict=True):
        verdict = "PASS" if seconds < POLL_RATE_SECONDS else "MISS"
        print(
            f"- {label}: {seconds:.1f} s for {summary['polled']}/{summary['stores']} stores, "
            f"{summary['messages']} buyer messages, {summary['failed']} failed "
            f"(target < {POLL_RATE_SECONDS} s, the poll rate: {verdict})"
        )


if __name__ == "__main__":
    main()

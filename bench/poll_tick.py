"""One poll tick over 130 Mirakl marketplaces, timed (the speed half of
tests/integration/test_mirakl_at_scale.py, which checks what the tick does and never how long it takes).

The real poller (``PollerFunction`` on the local stack: DynamoDB, S3, SQS and Secrets Manager on moto)
polls 130 stores whose Mirakl API is answered at the httpx transport with the recorded M11/OR11 pages.
Target: a tick ends well inside the tenant's poll rate (template.yaml ``PollRateMinutes``, 2 minutes), so
ticks never overlap. Prints the figures; asserts nothing.

    PYTHONPATH=shared:. .venv/bin/python -m bench.poll_tick      (make bench runs it)
"""

from __future__ import annotations

import time
import uuid

import respx

STORES = 130
POLL_RATE_SECONDS = 120


def main() -> None:
    from helpdesk.adapters.dynamodb import DynamoRepository
    from infrastructure.local.mirakl_replay import RecordedMarketplace, connect_marketplaces
    from infrastructure.local.stack import LocalStack

    marketplace = RecordedMarketplace()

    with LocalStack(stage="bench", poll_event_sources=False) as stack:
        repo = DynamoRepository(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
        secrets = stack.client("secretsmanager")
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        connect_marketplaces(secrets, repo, tenant, STORES)
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

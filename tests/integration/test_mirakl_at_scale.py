"""130 Mirakl marketplaces polled in one schedule tick: the real connector (HTTP mocked at the httpx
transport with the recorded M11/OR11 pages), the real poller, DynamoDB/S3/SQS on moto."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import respx

from helpdesk.adapters.dynamodb import DynamoRepository
from infrastructure.local.mirakl_replay import RecordedMarketplace, connect_marketplaces
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import drain_ingest_queue

STORES = 130
MARKETPLACE = RecordedMarketplace()


def _mirakl_marketplace(request: httpx.Request) -> httpx.Response:
    assert request.headers["Authorization"].startswith("key-mp")
    return MARKETPLACE(request)


@pytest.fixture
def without_intake(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This test is about polling: 260 intake workflows would only keep moto busy for later tests."""
    from helpdesk.platform import config, wiring

    monkeypatch.setenv("INTAKE_STATE_MACHINE_ARN", "")
    config.reset()
    wiring.envelope_processor.cache_clear()
    yield
    monkeypatch.undo()
    config.reset()
    wiring.envelope_processor.cache_clear()


def test_130_marketplaces_in_one_tick(stack: LocalStack, repo: DynamoRepository, without_intake: None) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    secrets = stack.client("secretsmanager")
    connect_marketplaces(secrets, repo, tenant, STORES)
    # First poll looks back a bounded window; the replayed pages are from the last hour.
    drain_ingest_queue(stack)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.route(host__regex=r"mp\d{3}\.mirakl\.example").mock(side_effect=_mirakl_marketplace)
        result = stack.functions["PollerFunction"].invoke({"tenant_id": tenant})
    (summary,) = result["tenants"]
    assert summary["stores"] == STORES and summary["polled"] == STORES and summary["failed"] == 0
    assert summary["messages"] > 0
    for i in (0, 64, 129):
        health = repo.get_health(tenant, f"mp{i:03d}")
        assert health is not None and health.healthy and health.last_message_at is not None
        assert repo.get_cursor(tenant, f"mp{i:03d}", "inbox") is not None
    # The queued messages become tickets; a second tick (same pages again) duplicates nothing.
    drain_ingest_queue(stack)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.route(host__regex=r"mp\d{3}\.mirakl\.example").mock(side_effect=_mirakl_marketplace)
        stack.functions["PollerFunction"].invoke({"tenant_id": tenant})
    drain_ingest_queue(stack)
    tickets = _all_queued(repo, tenant)
    assert {t.store_id for t in tickets} == {f"mp{i:03d}" for i in range(STORES)}
    assert sum(t.message_count for t in tickets) == summary["messages"]


def _all_queued(repo: DynamoRepository, tenant: str) -> list:
    page = repo.list_queue(tenant, "tenant", None, 100, None)
    tickets = list(page.tickets)
    while page.next_cursor:
        page = repo.list_queue(tenant, "tenant", None, 100, page.next_cursor)
        tickets.extend(page.tickets)
    return tickets

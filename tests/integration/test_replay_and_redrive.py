"""Nothing lost, nothing doubled: replaying a store's kept deliveries re-queues them and changes no
ticket; the operator command moves dead letters back to the ingest queue (on moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from helpdesk.adapters.aws import S3RawArchive, SqsEnvelopePublisher
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.ingest.replay import ReplayService
from infrastructure.local.stack import LocalStack
from infrastructure.ops.__main__ import main as ops_main
from tests.integration.conftest import Seller, drain_ingest_queue


def _service(stack: LocalStack, repo: DynamoRepository) -> ReplayService:
    refs = stack.resolver.refs
    return ReplayService(
        repo,
        S3RawArchive(stack.client("s3"), refs["RawPayloadBucket"]),
        SqsEnvelopePublisher(stack.client("sqs"), refs["InboundQueue"]),
    )


def test_replay_of_a_window_requeues_every_delivery_and_doubles_nothing(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    drain_ingest_queue(stack)
    for number, note in ((5101, "Where is my parcel?"), (5102, "Please change the address")):
        woo_order.update(id=number, number=str(number), customer_note=note)
        body = json.dumps(woo_order).encode()
        response = stack.functions["WebhookFunction"].invoke(seller.webhook_event(body, delivery_id=str(number)))
        assert response["statusCode"] == 202
    assert drain_ingest_queue(stack) == 2
    before = {
        t.ticket_id: t.message_count
        for ref in ("5101", "5102")
        for t in repo.find_tickets_by_order(seller.tenant_id, seller.store_id, ref)
    }
    assert len(before) == 2

    now = datetime.now(UTC)
    report = _service(stack, repo).replay(
        seller.tenant_id, seller.store_id, now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    assert (report.deliveries, report.messages, report.order_events, report.failed) == (2, 2, 2, [])
    assert drain_ingest_queue(stack) == 2  # both deliveries went through the consumer again ...
    after = {
        t.ticket_id: t.message_count
        for ref in ("5101", "5102")
        for t in repo.find_tickets_by_order(seller.tenant_id, seller.store_id, ref)
    }
    assert after == before  # ... and changed nothing

    empty = _service(stack, repo).replay(
        seller.tenant_id, seller.store_id, now - timedelta(days=3), now - timedelta(days=2)
    )
    assert empty.deliveries == 0


def test_replay_of_a_polled_store_rewinds_its_cursor(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    from helpdesk.core.models import Channel, Store

    repo.put_store(
        Store(
            tenant_id=seller.tenant_id,
            store_id="mp-1",
            channel=Channel.MIRAKL,
            display_name="MP",
            base_url="https://mp.example",
            created_at=datetime.now(UTC),
        )
    )
    repo.advance_cursor(seller.tenant_id, "mp-1", "inbox", None, "2026-11-20T10:00:00Z")
    start = datetime(2026, 11, 18, tzinfo=UTC)
    report = _service(stack, repo).replay(seller.tenant_id, "mp-1", start, start + timedelta(days=1))
    assert report.cursor_rewound_to == "2026-11-18T00:00:00Z"
    assert repo.get_cursor(seller.tenant_id, "mp-1", "inbox") == "2026-11-18T00:00:00Z"


def test_redrive_command_moves_dead_letters_back(stack: LocalStack, capsys: Any, monkeypatch: Any) -> None:
    sqs = stack.client("sqs")
    refs = stack.resolver.refs
    drain_ingest_queue(stack)
    for n in range(3):
        sqs.send_message(
            QueueUrl=refs["InboundDeadLetterQueue"],
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={"tenant_id": {"DataType": "String", "StringValue": "t"}},
        )
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint)
    assert ops_main(["redrive", "--queue-url", refs["InboundQueue"], "--dlq-url", refs["InboundDeadLetterQueue"]]) == 0
    assert json.loads(capsys.readouterr().out) == {"moved": 3}
    moved = sqs.receive_message(QueueUrl=refs["InboundQueue"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert sorted(json.loads(m["Body"])["n"] for m in moved) == [0, 1, 2]
    assert moved[0]["MessageAttributes"]["tenant_id"]["StringValue"] == "t"
    for m in moved:
        sqs.delete_message(QueueUrl=refs["InboundQueue"], ReceiptHandle=m["ReceiptHandle"])
    left = sqs.receive_message(QueueUrl=refs["InboundDeadLetterQueue"], MaxNumberOfMessages=10)
    assert left.get("Messages", []) == []

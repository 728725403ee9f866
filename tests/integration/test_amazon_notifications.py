"""Amazon SP-API ORDER_CHANGE on the notifications queue (moto): a buyer cancellation request
becomes a high-priority ticket tagged as a cancellation on the order; an unknown seller is
quarantined and acknowledged, never retried forever."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, Priority, Store
from infrastructure.local.stack import REGION, LocalStack
from tests.conftest import ROOT
from tests.integration.conftest import drain_ingest_queue

SAMPLE = ROOT / "infrastructure/local/samples/amazon/order_change_buyer_cancel.json"


def _sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "rh",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:amazon-notifications",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }


def test_buyer_cancellation_request_becomes_a_cancellation_ticket(stack: LocalStack, repo: DynamoRepository) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    seller_id = f"A{uuid.uuid4().hex[:12].upper()}"
    repo.put_store(
        Store(
            tenant_id=tenant,
            store_id="amazon-us",
            channel=Channel.AMAZON,
            display_name="Amazon US",
            created_at=datetime.now(UTC),
        )
    )
    repo.put_channel_route("amazon", seller_id, tenant, "amazon-us")
    notification = json.loads(SAMPLE.read_text())
    notification["Payload"]["OrderChangeNotification"]["SellerId"] = seller_id
    unknown = json.loads(SAMPLE.read_text())
    unknown["Payload"]["OrderChangeNotification"]["SellerId"] = "ANOBODY"
    drain_ingest_queue(stack)

    result = stack.functions["AmazonNotificationsFunction"].invoke(
        _sqs_event(json.dumps(notification), json.dumps(unknown), "not json")
    )
    assert result == {"batchItemFailures": []}  # unreadable / unroutable: quarantined, not retried
    assert drain_ingest_queue(stack) == 1

    order_id = notification["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    (ticket,) = repo.find_tickets_by_order(tenant, "amazon-us", order_id)
    assert "cancellation_request" in ticket.tags and ticket.priority == Priority.HIGH
    order = repo.get_order(tenant, "amazon-us", order_id)
    assert order is not None and order.channel_status == "Unshipped"
    quarantined = stack.client("s3").list_objects_v2(
        Bucket=stack.resolver.refs["RawPayloadBucket"], Prefix="quarantine/amazon/unknown-seller/ANOBODY/"
    )
    assert quarantined.get("KeyCount", 0) == 1

"""WooCommerce webhook → S3 raw → SQS envelope → ticket in DynamoDB → SLA timer started."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.sla.timers import timer_request
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, buyer_messages, drain_ingest_queue


def _invoke(stack: LocalStack, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = stack.functions["WebhookFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"])


def _objects(stack: LocalStack, prefix: str) -> list[str]:
    bucket = stack.resolver.refs["RawPayloadBucket"]
    listing = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def _queue_depth(stack: LocalStack) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resolver.refs["InboundQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _order_body(woo_order: dict[str, Any], order_id: int, note: str, created: datetime | None = None) -> bytes:
    created = created or datetime.now(UTC)
    woo_order.update(
        id=order_id,
        number=str(order_id),
        customer_note=note,
        date_created_gmt=created.strftime("%Y-%m-%dT%H:%M:%S"),
        date_modified_gmt=created.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    return json.dumps(woo_order).encode()


def test_signed_webhook_becomes_a_ticket_with_its_message_order_and_timer(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    drain_ingest_queue(stack)
    body = _order_body(woo_order, 4101, "Please cancel this order, I ordered the wrong size.")
    status, receipt = _invoke(stack, seller.webhook_event(body, delivery_id="9001"))
    assert status == 202
    assert receipt == {"status": "accepted", "delivery_id": "wc-12-9001", "messages": 1, "order_events": 1}

    raw = _objects(stack, f"raw/{seller.tenant_id}/woocommerce/{seller.store_id}/")
    assert len(raw) == 1 and raw[0].endswith("/wc-12-9001")
    stored = stack.client("s3").get_object(Bucket=stack.resolver.refs["RawPayloadBucket"], Key=raw[0])
    assert stored["Body"].read() == body  # byte for byte: replayable

    assert drain_ingest_queue(stack) == 1
    (ticket,) = repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "4101")
    view = repo.get_ticket_view(seller.tenant_id, ticket.ticket_id)
    assert view is not None
    assert [m.body for m in buyer_messages(view)] == ["Please cancel this order, I ordered the wrong size."]
    assert buyer_messages(view)[0].raw_s3_key == raw[0]
    assert ticket.customer_email == "john.doe@example.com"
    assert ticket.first_response_due_at is not None
    assert ticket.first_response_due_at - ticket.last_message_at == timedelta(hours=24)

    order = repo.get_order(seller.tenant_id, seller.store_id, "4101")
    assert order is not None and order.total is not None and str(order.total) == "29.35"
    assert [i.quantity for i in order.items] == [2, 1]

    executions = stack.client("stepfunctions").list_executions(
        stateMachineArn=stack.state_machines["SlaTimerStateMachine"]
    )["executions"]
    expected = timer_request(ticket)
    assert expected is not None and expected.timer_version == "1"
    assert expected.execution_name in {e["name"] for e in executions}


def test_same_delivery_twice_is_stored_once(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    drain_ingest_queue(stack)
    body = _order_body(woo_order, 4102, "Can you gift-wrap it?")
    first = _invoke(stack, seller.webhook_event(body, delivery_id="777"))
    second = _invoke(stack, seller.webhook_event(body, delivery_id="777"))
    assert first == second
    assert _queue_depth(stack) == 1
    assert len(_objects(stack, f"raw/{seller.tenant_id}/")) == 1
    drain_ingest_queue(stack)
    assert len(repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "4102")) == 1


def test_same_message_in_two_deliveries_is_one_message(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    """order.created then order.updated both carry the same checkout note: one message."""
    drain_ingest_queue(stack)
    body = _order_body(woo_order, 4103, "Leave it at the door.")
    assert _invoke(stack, seller.webhook_event(body, delivery_id="1"))[0] == 202
    woo_order["status"] = "completed"
    woo_order["date_modified_gmt"] = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    updated = json.dumps(woo_order).encode()
    assert _invoke(stack, seller.webhook_event(updated, topic="order.updated", delivery_id="2"))[0] == 202
    drain_ingest_queue(stack)
    (ticket,) = repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "4103")
    view = repo.get_ticket_view(seller.tenant_id, ticket.ticket_id)
    assert view is not None and len(buyer_messages(view)) == 1 and view.ticket.message_count == 1
    order = repo.get_order(seller.tenant_id, seller.store_id, "4103")
    assert order is not None and order.channel_status == "completed"


def test_older_order_event_does_not_overwrite_newer(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    drain_ingest_queue(stack)
    now = datetime.now(UTC)
    woo_order.update(id=4104, number="4104", status="completed", date_modified_gmt=now.strftime("%Y-%m-%dT%H:%M:%S"))
    newer = json.dumps(woo_order).encode()
    woo_order.update(status="processing", date_modified_gmt=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    older = json.dumps(woo_order).encode()
    _invoke(stack, seller.webhook_event(newer, topic="order.updated", delivery_id="n"))
    _invoke(stack, seller.webhook_event(older, topic="order.updated", delivery_id="o"))
    drain_ingest_queue(stack)
    order = repo.get_order(seller.tenant_id, seller.store_id, "4104")
    assert order is not None and order.channel_status == "completed"


def test_wrong_signature_is_401_and_stores_nothing(
    stack: LocalStack, seller: Seller, woo_order: dict[str, Any]
) -> None:
    drain_ingest_queue(stack)
    body = _order_body(woo_order, 4105, "hello")
    status, answer = _invoke(stack, seller.webhook_event(body, signature="c2lnbmF0dXJl"))
    assert status == 401 and answer["error"]["code"] == "invalid_signature"
    assert _objects(stack, f"raw/{seller.tenant_id}/") == []
    assert _objects(stack, f"quarantine/{seller.tenant_id}/") == []
    assert _queue_depth(stack) == 0


def test_malformed_json_is_400_with_reason_and_quarantined(stack: LocalStack, seller: Seller) -> None:
    drain_ingest_queue(stack)
    body = b'{"id": 12, "status": '
    status, answer = _invoke(stack, seller.webhook_event(body, delivery_id="bad-1"))
    assert status == 400
    assert answer["error"]["code"] == "malformed_payload"
    assert "not valid JSON" in answer["error"]["message"]
    quarantined = _objects(stack, f"quarantine/{seller.tenant_id}/")
    assert len(quarantined) == 1 and answer["error"]["details"]["quarantined_as"] == quarantined[0]
    obj = stack.client("s3").get_object(Bucket=stack.resolver.refs["RawPayloadBucket"], Key=quarantined[0])
    assert obj["Body"].read() == body
    assert _queue_depth(stack) == 0


def test_unknown_store_and_unknown_channel_are_404(stack: LocalStack, seller: Seller) -> None:
    event = seller.webhook_event(b"{}")
    event["pathParameters"]["store_id"] = "no-such-store"
    response = stack.functions["WebhookFunction"].invoke(event)
    assert response["statusCode"] == 404
    event = seller.webhook_event(b"{}")
    event["pathParameters"]["channel"] = "myspace"
    response = stack.functions["WebhookFunction"].invoke(event)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"


def test_woocommerce_ping_on_webhook_creation_is_acknowledged(stack: LocalStack, seller: Seller) -> None:
    event = seller.webhook_event(b"webhook_id=12", content_type="application/x-www-form-urlencoded")
    for header in [h for h in event["headers"] if h.startswith("x-wc-")]:
        del event["headers"][header]
    response = stack.functions["WebhookFunction"].invoke(event)
    assert response["statusCode"] == 200 and json.loads(response["body"])["status"] == "ping"


def test_a_poison_envelope_fails_alone_and_the_rest_of_the_batch_is_stored(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    from infrastructure.local.stack import sqs_record

    drain_ingest_queue(stack)
    body = _order_body(woo_order, 4106, "Is it in stock?")
    _invoke(stack, seller.webhook_event(body, delivery_id="good"))
    sqs = stack.client("sqs")
    url = stack.resolver.refs["InboundQueue"]
    (good,) = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    poison = {**good, "MessageId": "poison-1", "Body": '{"tenant_id": "x"}'}
    arn = stack.resolver.attributes[("InboundQueue", "Arn")]
    result = stack.functions["IngestConsumerFunction"].invoke(
        {"Records": [sqs_record(poison, arn), sqs_record(good, arn)]}
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert len(repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "4106")) == 1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=good["ReceiptHandle"])


def test_a_rotated_webhook_secret_takes_effect_at_once(
    stack: LocalStack, seller: Seller, woo_order: dict[str, Any]
) -> None:
    body = _order_body(woo_order, 4107, "")
    assert _invoke(stack, seller.webhook_event(body, delivery_id="r1"))[0] == 202  # secret now cached
    seller.secret = "rotated-" + seller.secret
    stack.client("secretsmanager").put_secret_value(
        SecretId=f"helpdesk/{seller.tenant_id}/{seller.store_id}",
        SecretString=json.dumps({"webhook_secret": seller.secret}),
    )
    assert _invoke(stack, seller.webhook_event(body, delivery_id="r2"))[0] == 202
    drain_ingest_queue(stack)

"""Concurrent consumers on one thread: no lost message, one ticket (conditional writes on moto)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from helpdesk.adapters.aws import StepFunctionsSlaTimers
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, InboundMessage
from helpdesk.tickets.threads import TicketService
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller


def test_racing_messages_on_one_thread_make_one_ticket_with_every_message(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    timers = StepFunctionsSlaTimers(stack.client("stepfunctions"), stack.state_machines["SlaTimerStateMachine"])
    services = [TicketService(DynamoRepository(stack.client("dynamodb"), repo._table), timers) for _ in range(4)]
    messages = [
        InboundMessage(
            tenant_id=seller.tenant_id,
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            channel_message_id=f"race-{i}",
            channel_thread_id="thread-race",
            order_ref="R-1",
            body=f"message {i}",
            received_at=datetime.now(UTC),
        )
        for i in range(8)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda pair: services[pair[0] % 4].receive(pair[1]), enumerate(messages)))
    assert len({r.ticket_id for r in results}) == 1
    assert sum(r.created_ticket for r in results) == 1
    view = repo.get_ticket_view(seller.tenant_id, results[0].ticket_id)
    assert view is not None
    assert sorted(m.body for m in view.messages) == sorted(m.body for m in messages)
    assert view.ticket.message_count == 8
    assert view.ticket.version == 8  # created at 1, one bump per appended message


def test_a_stale_writer_gets_a_conflict(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    service = TicketService(
        repo, StepFunctionsSlaTimers(stack.client("stepfunctions"), stack.state_machines["SlaTimerStateMachine"])
    )
    first = service.receive(
        InboundMessage(
            tenant_id=seller.tenant_id,
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            channel_message_id="s-1",
            channel_thread_id="t-stale",
            body="one",
            received_at=datetime.now(UTC),
        )
    )
    stale = repo.get_ticket(seller.tenant_id, first.ticket_id)
    assert stale is not None
    service.receive(
        InboundMessage(
            tenant_id=seller.tenant_id,
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            channel_message_id="s-2",
            channel_thread_id="t-stale",
            body="two",
            received_at=datetime.now(UTC),
        )
    )
    from helpdesk.core.errors import Conflict
    from helpdesk.core.models import Message, MessageDirection

    late = Message(
        tenant_id=seller.tenant_id,
        ticket_id=stale.ticket_id,
        message_id="late",
        direction=MessageDirection.INBOUND,
        channel=Channel.WOOCOMMERCE,
        store_id=seller.store_id,
        channel_message_id="s-3",
        author="buyer",
        body="three",
        created_at=datetime.now(UTC),
    )
    try:
        repo.append_message(stale, stale.model_copy(), late)
    except Conflict:
        pass
    else:
        raise AssertionError("a write based on an old version must be refused")
    view = repo.get_ticket_view(seller.tenant_id, stale.ticket_id)
    assert view is not None and [m.body for m in view.messages] == ["one", "two"]


def test_a_cancelled_transaction_changes_no_item(stack: LocalStack, repo: DynamoRepository) -> None:
    """The local DynamoDB rolls back the items a cancelled transaction touched (not a table copy)."""
    import pytest
    from botocore.exceptions import ClientError

    ddb, table = stack.client("dynamodb"), repo._table
    kept = {"PK": {"S": "T#rollback"}, "SK": {"S": "A"}, "v": {"N": "1"}}
    ddb.put_item(TableName=table, Item=kept)
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**kept, "v": {"N": "2"}}}},
                {"Put": {"TableName": table, "Item": {"PK": {"S": "T#rollback"}, "SK": {"S": "B"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"PK": {"S": "T#rollback"}, "SK": {"S": "C"}},
                        "UpdateExpression": "SET v = :v",
                        "ConditionExpression": "attribute_exists(PK)",
                        "ExpressionAttributeValues": {":v": {"N": "9"}},
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = ddb.query(
        TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "T#rollback"}}
    )["Items"]
    assert items == [kept]

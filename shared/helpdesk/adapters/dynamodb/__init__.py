"""The DynamoDB single-table repository (access patterns: docs/data-model.md): one class per kind of
record (tenants, routing config, tickets, outbox, polling, orders), combined into ``DynamoRepository``.

Concurrency: a ticket's state is written whole with ``version = :expected`` (optimistic lock) in
the same transaction as its new message, the channel-message dedup marker and the thread pointer;
DynamoDB errors become domain errors (DuplicateMessage, Conflict) for the service to act on.
"""

from __future__ import annotations

from helpdesk.adapters.dynamodb.base import INGEST_ERROR_DAYS, NO_DEADLINE, batch_write, from_item, to_item
from helpdesk.adapters.dynamodb.orders import OrderRecords
from helpdesk.adapters.dynamodb.outbox import OutboxRecords
from helpdesk.adapters.dynamodb.polling import PollingRecords
from helpdesk.adapters.dynamodb.routing_config import RoutingConfigRecords
from helpdesk.adapters.dynamodb.tenants import TenantRecords
from helpdesk.adapters.dynamodb.tickets import TicketRecords

__all__ = ["INGEST_ERROR_DAYS", "NO_DEADLINE", "DynamoRepository", "batch_write", "from_item", "to_item"]


class DynamoRepository(TenantRecords, RoutingConfigRecords, TicketRecords, OutboxRecords, PollingRecords, OrderRecords):
    """Every record of the table: what the services' repository ports ask for."""

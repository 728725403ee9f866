"""In-memory fakes of the ports in the areas' ``ports`` modules for the unit tier (no AWS).

``InMemoryRepository`` honours the contract ``ports.TicketRepository`` documents and the DynamoDB
adapter implements:

* ``create_ticket`` raises DuplicateMessage if the channel message id is already stored and
  Conflict if the ticket's thread is already claimed by another ticket;
* ``append_message`` raises DuplicateMessage if the channel message id is stored, Conflict if the
  stored ticket's version differs from ``previous.version`` (or the message's thread belongs to
  another ticket), and on success stores ``updated`` with ``version = previous.version + 1``;
* reads return copies, as a database would: mutating a returned ticket changes nothing stored.

Tests can make the next call of a method fail (``fail_next``) or run a side effect first
(``before_next``, e.g. a concurrent consumer winning a race), and read every call in ``calls``.
"""

from __future__ import annotations

from tests.fakes.repository.base import InboxState, InMemoryTable
from tests.fakes.repository.inbox import InboxRecords
from tests.fakes.repository.orders import OrderRecords
from tests.fakes.repository.routing_config import RoutingConfigRecords
from tests.fakes.repository.stores import StoreRecords
from tests.fakes.repository.ticket_moves import TicketMoveRecords
from tests.fakes.repository.tickets import TicketRecords

__all__ = ["InMemoryRepository", "InMemoryTable", "InboxState"]


class InMemoryRepository(
    StoreRecords, TicketRecords, OrderRecords, TicketMoveRecords, InboxRecords, RoutingConfigRecords
):
    """Every storage port the services declare, in memory (one class per kind of record, as the DynamoDB
    repository)."""

"""The table's DynamoDB stream records, read back as the ticket and message changes the reports and
surveys follow (``helpdesk.reports.stream``)."""

from __future__ import annotations

from typing import Any

from helpdesk.adapters.dynamodb import from_item
from helpdesk.core.models import Message, Ticket
from helpdesk.reports.stream import MessageChange, TicketChange


def decode_change(record: dict[str, Any]) -> TicketChange | MessageChange | None:
    """A stream record as the ticket or message change it is (None: another kind of item)."""
    data = record.get("dynamodb", {})
    sk = data.get("Keys", {}).get("SK", {}).get("S", "")
    old, new = data.get("OldImage"), data.get("NewImage")
    if sk == "TICKET":
        return TicketChange(from_item(Ticket, old) if old else None, from_item(Ticket, new) if new else None)
    if sk.startswith("MSG#") and new:
        return MessageChange(from_item(Message, old) if old else None, from_item(Message, new))
    return None

"""Losing no outbound message: a reply stored ``queued`` whose queue message never got to the
dispatcher is found by the tenant's periodic run (a Query on the sparse Outbox index), queued again
and sent once; a merge's display copy of a queued reply is never sent."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.ticket_moves import TicketMoves
from helpdesk.core.ids import new_id
from helpdesk.core.models import DeliveryStatus, MessageDirection, TicketStatus
from helpdesk.replies.agent_replies import outbound_reply
from helpdesk.replies.outbox import CHECK_AFTER
from infrastructure.local.mailbox import sent_mail
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller
from tests.integration.test_replies_api import dispatch, open_ticket


def test_a_queued_reply_that_never_reached_the_dispatcher_is_sent_by_the_periodic_run(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    while dispatch(stack):  # replies other tests left on the queue
        pass
    tenant = seller.tenant_id
    ticket, _ = open_ticket(repo, seller, status=TicketStatus.RESOLVED)
    # An automatic message on a resolved ticket, stored ten minutes ago; its queue message was lost.
    stored_at = datetime.now(UTC) - timedelta(minutes=10)
    view = repo.get_ticket_view(tenant, ticket.ticket_id)
    reply = outbound_reply(
        view,
        stored_at,
        body="Ihre Bestellung wurde versandt.",
        language="de",
        author="automation",
        author_id=None,
        macro_id=None,
        status_after=None,
    )
    current = repo.get_ticket(tenant, ticket.ticket_id)
    repo.update_ticket(current, current.model_copy(deep=True), [reply])
    assert [e.message_id for e in repo.due_outbound(tenant, datetime.now(UTC), 10)] == [reply.message_id]
    # A merge's copy of it (for display on another ticket) is not another message to send.
    moves = TicketMoves(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
    other, _ = open_ticket(repo, seller)
    moves.copy_messages([reply.model_copy(update={"ticket_id": other.ticket_id, "message_id": new_id(stored_at)})])
    assert len(repo.due_outbound(tenant, datetime.now(UTC) + CHECK_AFTER * 2, 10)) == 1

    report = stack.functions["AgingFunction"].invoke({"tenant_id": tenant})
    assert report[tenant]["outbox"] == {"requeued": [reply.message_id], "not_queued": []}
    assert repo.due_outbound(tenant, datetime.now(UTC), 10) == [], "looked at again only later"

    before = len(sent_mail(stack))
    assert dispatch(stack) == 1
    (mail,) = sent_mail(stack)[before:]
    assert "Ihre Bestellung wurde versandt." in email.message_from_string(mail["raw"]).get_payload(decode=True).decode()
    sent = next(m for m in repo.get_ticket_view(tenant, ticket.ticket_id).messages if m.message_id == reply.message_id)
    assert sent.direction == MessageDirection.OUTBOUND and sent.delivery_status == DeliveryStatus.SENT
    assert repo.due_outbound(tenant, datetime.now(UTC) + timedelta(days=1), 10) == [], "sent: out of the outbox"
    assert stack.functions["AgingFunction"].invoke({"tenant_id": tenant})[tenant]["outbox"]["requeued"] == []

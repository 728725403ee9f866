"""Answering the buyer: replies and retries, the reply translated for review, drafts, macro previews."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api.access import caller
from helpdesk.api.agent.common import accepted, created
from helpdesk.core.models import (
    Draft,
    Message,
    Ticket,
    Translation,
)
from helpdesk.languages.multilingual import ReplyTranslationRequest
from helpdesk.platform import wiring
from helpdesk.replies.agent_replies import ReplyRequest
from helpdesk.replies.automatic_answers import DraftRequest
from helpdesk.replies.macros import RenderedMacro

router = Router()


@router.post("/tickets/<ticket_id>/replies", responses=accepted(Message, "The reply, queued for sending"))
def reply(ticket_id: str, request: ReplyRequest) -> tuple[Message, int]:
    """Answer the buyer through the ticket's channel. The reply is stored (delivery_status "queued")
    and sent by the dispatcher; the timeline then shows it "sent" or "failed" with the channel's
    error. With `macro_id` and no `body`, the macro is rendered for this ticket (422
    `macro_incomplete` lists the placeholders the ticket has no value for). Refused with 409
    `stale_timeline` when somebody else added to the timeline after `last_seen_message_id`, unless
    `force`."""
    me = caller(router).require_writer()
    return wiring.reply_service().reply(me.tenant_id, me.agent_id, ticket_id, request), 202


@router.post("/tickets/<ticket_id>/replies/<message_id>/retry", responses=accepted(Message, "The reply, queued again"))
def retry_reply(ticket_id: str, message_id: str) -> tuple[Message, int]:
    """Send a failed reply again (after checking it did not reach the buyer)."""
    me = caller(router).require_writer()
    return wiring.reply_service().retry(me.tenant_id, me.agent_id, ticket_id, message_id), 202


@router.post("/tickets/<ticket_id>/replies/translation")
def translate_reply(ticket_id: str, request: ReplyTranslationRequest) -> Translation:
    """The reply the agent wrote, translated into the buyer's language for review before sending
    (order and tracking numbers, URLs, e-mail addresses, product names and the store's name are left
    exactly as written). `provider` says who translated it; `translated: false` means it was not
    (no provider, or it failed: `note` says why) and `text` is the original. Send the reviewed text as
    the reply's `translation`; both versions are kept."""
    me = caller(router).require_writer()
    return wiring.reply_service().translate(me.tenant_id, me.agent_id, ticket_id, request)


@router.post("/tickets/<ticket_id>/draft", responses=created(Draft, "The draft, kept on the ticket"))
def prepare_draft(ticket_id: str, request: DraftRequest) -> tuple[Draft, int]:
    """Prepare a first draft in the buyer's language: from `macro_id`, or by the drafter (Amazon
    Bedrock in AWS, built from the seller's macros and the order data offline) given the thread, the
    order and the seller's policy snippets. Never sent: the agent edits it and replies. 503
    `draft_unavailable` says why none could be prepared."""
    me = caller(router).require_writer()
    return wiring.automation().prepare_draft(me.tenant_id, me.agent_id, ticket_id, request.macro_id), 201


@router.delete("/tickets/<ticket_id>/draft")
def discard_draft(ticket_id: str) -> Ticket:
    """Throw the ticket's draft away."""
    me = caller(router).require_writer()
    return wiring.automation().discard_draft(me.tenant_id, ticket_id)


@router.get("/tickets/<ticket_id>/macros/<macro_id>/preview")
def preview_macro(ticket_id: str, macro_id: str) -> RenderedMacro:
    """The macro as a reply on this ticket would say it, in the ticket's language when the macro has
    it, with the placeholders the ticket has no value for."""
    me = caller(router)
    return wiring.reply_service().preview(me.tenant_id, me.agent_id, ticket_id, macro_id)

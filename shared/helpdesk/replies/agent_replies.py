"""Agent replies: stored first, sent by the dispatcher, measured at the channel's acceptance.

**Compose** (``ReplyService.reply``, the agent API): the text is the agent's, or a macro rendered
with the ticket's placeholders (``helpdesk.replies.macros``). A reply written on a stale view of the ticket
is refused with 409 ``stale_timeline`` (listing what the agent has not seen) unless forced: the
agent names the newest timeline entry they saw, and any buyer message, reply or note by somebody else
stored after it makes the view stale. (Message ids sort in storage order, see ``helpdesk.tickets.threads``.) The
reply is stored as an outbound message with delivery status ``queued`` in the same conditional
write as the ticket (aging clock reset when the assignee writes, macro tags added), then put on the
outbound queue.

**Dispatch** (``DispatchService.dispatch``, the dispatch function behind the queue) sends it through
the ticket's channel (its messaging API, or e-mail for channels answered by mail) and records:

* accepted → ``sent`` with the channel's id and ``sent_at``. The ticket's first response is this
  instant (the channel's acceptance, not the click). The SLA: the timer version goes up (the running
  timer finds itself stale); the status becomes what the agent chose (default waiting on the
  customer); if it stays open, the next-response deadline is re-armed from now under the ticket's
  policy (the agent still owes an answer), otherwise the buyer's next message arms it;
* refused by the channel (4xx), or failed in a way that may have reached it (a timeout after the
  request left) → ``failed`` with the channel's error on the reply and an event on the timeline;
  the agent may retry (a send that may have arrived is never repeated automatically);
* not reached / rate limited (connection refused, 429, 503) → retried by the queue with backoff;
  on the last attempt it is ``failed`` like above; a crash is caught by the queue's DLQ.

Dispatch never hands a reply to the channel twice: it first claims it (``queued`` → ``sending``,
one conditional write), so a redelivered queue record finds it claimed or ``sent``; a reply left
``sending`` (the dispatch crashed or timed out, perhaps after the channel accepted it) is recorded
``failed`` with "may have reached the buyer", for the agent to check and retry. A reply still
``queued`` after ``STUCK_AFTER`` (its queue message was lost) can be retried by the agent too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import ChannelError, Conflict, HelpdeskError, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Agent,
    Automation,
    DeliveryStatus,
    Macro,
    Message,
    MessageDirection,
    Model,
    Ticket,
    TicketStatus,
    TicketView,
    Translation,
)
from helpdesk.replies.macros import RenderedMacro, placeholder_context, render
from helpdesk.replies.ports import (
    AgentReplyRepository,
    DeliveryClaims,
    DeliveryLog,
    MacroSource,
    ReplyChannel,
    ReplyQueue,
)
from helpdesk.routing.intake import owed_since, timeline_event
from helpdesk.sla import timers as sla_timers
from helpdesk.sla.policies import SlaPolicySpec, compute_due
from helpdesk.sla.ports import SlaTimers
from helpdesk.tickets.threads import found_view, ticket_order

if TYPE_CHECKING:
    from helpdesk.languages.multilingual import ReplyTranslationRequest
    from helpdesk.languages.translation import TranslationService

MAX_ATTEMPTS = 5
MAX_REPLY = 20_000
RETRYABLE_STATUSES = frozenset({429, 503})
STUCK_AFTER = timedelta(minutes=5)
UNKNOWN_OUTCOME = "the send was interrupted and may have reached the buyer: check the channel, then retry if it did not"
NOT_A_RESPONSE = frozenset({Automation.ACKNOWLEDGEMENT, Automation.NUDGE, Automation.SURVEY})
StatusAfter = Literal["open", "waiting_on_customer", "resolved"]


class StaleTimeline(HelpdeskError):
    code = "stale_timeline"
    status = 409


class ReplyNotQueued(HelpdeskError):
    code = "reply_not_queued"
    status = 503


class MacroIncomplete(HelpdeskError):
    code = "macro_incomplete"
    status = 422


class ReplyInLanguage(Model):
    body: str = Field(min_length=1, max_length=MAX_REPLY, description="What the buyer gets, in their language")
    language: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", description="The language of body")
    source_language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="The language the agent wrote in; default: their first",
    )


class ReplyRequest(Model):
    body: str | None = Field(
        default=None, max_length=MAX_REPLY, description="The reply's text; with macro_id, the agent's edit of the macro"
    )
    macro_id: str | None = Field(default=None, max_length=128)
    last_seen_message_id: str | None = Field(
        default=None, max_length=64, description="The newest timeline entry the agent saw; required unless force"
    )
    force: bool = Field(default=False, description="Send even if the timeline changed since it was read")
    status_after: StatusAfter = Field(
        default="waiting_on_customer", description="The ticket's status once the channel accepted the reply"
    )
    translation: ReplyInLanguage | None = Field(
        default=None,
        description="Send this text (the reviewed translation of `body` into the buyer's language, "
        "see POST /tickets/{id}/replies/translation); `body` is kept as the agent wrote it",
    )

    @model_validator(mode="after")
    def _has_content(self) -> ReplyRequest:
        if not (self.body and self.body.strip()) and not self.macro_id:
            raise ValueError("a reply needs a body or a macro_id")
        if self.translation is not None and not (self.body and self.body.strip()):
            raise ValueError("a translated reply needs body: the text the agent wrote")
        if self.last_seen_message_id is None and not self.force:
            raise ValueError("last_seen_message_id is required (or force: true)")
        return self


# --- composing ----------------------------------------------------------------------------------


def stale_entries(view: TicketView, last_seen_message_id: str, agent_id: str) -> list[Message]:
    """Timeline entries stored after the one the agent saw, by anybody else (events excluded)."""
    if not any(m.message_id == last_seen_message_id for m in view.messages):
        raise ValueError(f"message {last_seen_message_id!r} is not on this ticket's timeline")
    return [
        m
        for m in view.messages
        if m.message_id > last_seen_message_id
        and m.direction != MessageDirection.EVENT
        and not (m.author_id == agent_id and m.direction != MessageDirection.INBOUND)
    ]


class ReplyService:
    def __init__(
        self,
        repository: AgentReplyRepository,
        deliveries: DeliveryLog,
        macros: MacroSource,
        queue: ReplyQueue,
        clock: Callable[[], datetime] = utc_now,
        translations: TranslationService | None = None,
    ) -> None:
        self._repo = repository
        self._deliveries = deliveries
        self._macros = macros
        self._queue = queue
        self._clock = clock
        self._translations = translations

    def reply(self, tenant_id: str, agent_id: str, ticket_id: str, request: ReplyRequest) -> Message:
        macro = self._macro(tenant_id, request.macro_id) if request.macro_id else None
        for _ in range(MAX_ATTEMPTS):
            view = self._view(tenant_id, ticket_id)
            ticket = view.ticket
            if ticket.merged_into:
                raise Conflict(
                    "this ticket was merged; reply on the ticket it was merged into", merged_into=ticket.merged_into
                )
            if not request.force and request.last_seen_message_id:
                unseen = stale_entries(view, request.last_seen_message_id, agent_id)
                if unseen:
                    raise StaleTimeline(
                        "the ticket changed since you read it: read the new entries, or send with force",
                        unseen=[
                            {
                                "message_id": m.message_id,
                                "direction": m.direction.value,
                                "author": m.author_id or m.author,
                            }
                            for m in unseen
                        ],
                    )
            body = (request.body or "").strip()
            if macro is not None and not body:
                rendered = self.render(tenant_id, agent_id, ticket, macro)
                if rendered.missing:
                    raise MacroIncomplete(
                        "the macro needs values this ticket does not have; edit the text",
                        missing=rendered.missing,
                        body=rendered.body,
                    )
                body = rendered.body
            now = self._clock()
            language = ticket.language
            versions = None
            if request.translation is not None:
                versions = self._versions(ticket, agent_id, body, request.translation)
                body, language = request.translation.body.strip(), request.translation.language
            reply = outbound_reply(
                view,
                now,
                body=body,
                language=language,
                author=agent_id,
                author_id=agent_id,
                macro_id=macro.macro_id if macro else None,
                status_after=TicketStatus(request.status_after),
            )
            reply.translation = versions
            updated = ticket.model_copy(deep=True)
            updated.updated_at = now
            updated.draft = None  # answered: the prepared draft is spent
            if macro is not None:
                updated.tags = list(dict.fromkeys([*updated.tags, *macro.tags]))
            if ticket.assignee_id == agent_id:
                updated.last_agent_action_at = now
                updated.aging_level = 0
            try:
                self._repo.update_ticket(ticket, updated, [reply])
            except Conflict:
                continue
            try:
                self._queue.publish(tenant_id, ticket_id, reply.message_id)
            except Exception as exc:  # noqa: BLE001 - any failure: the reply is stored, make it retryable
                self._not_queued(updated, reply, exc)
                raise ReplyNotQueued(
                    "the reply is saved but could not be queued for sending; retry it", message_id=reply.message_id
                ) from None
            return reply
        raise Conflict("the ticket kept changing; try again", ticket_id=ticket_id)

    def retry(self, tenant_id: str, agent_id: str, ticket_id: str, message_id: str) -> Message:
        """Queue a failed reply again (the agent checked it did not reach the buyer), or one still
        ``queued`` after ``STUCK_AFTER`` (its queue message was lost: no dispatch ever took it)."""
        for _ in range(MAX_ATTEMPTS):
            view = self._view(tenant_id, ticket_id)
            reply = _reply_in(view, message_id)
            now = self._clock()
            stuck = reply.delivery_status == DeliveryStatus.QUEUED and now - reply.created_at >= STUCK_AFTER
            if reply.delivery_status != DeliveryStatus.FAILED and not stuck:
                raise Conflict(
                    f"only a failed reply, or one queued for over {STUCK_AFTER.seconds // 60} minutes, "
                    f"can be retried; this one is {reply.delivery_status}",
                    message_id=message_id,
                )
            queued = reply.model_copy(update={"delivery_status": DeliveryStatus.QUEUED, "delivery_error": None})
            updated = view.ticket.model_copy(deep=True)
            updated.updated_at = now
            event = timeline_event(updated, now, f"Reply {message_id} queued again by {agent_id}")
            event.author_id = agent_id
            try:
                self._deliveries.record_delivery(view.ticket, updated, queued, [event])
            except Conflict:
                continue
            self._queue.publish(tenant_id, ticket_id, message_id)
            return queued
        raise Conflict("the ticket kept changing; try again", ticket_id=ticket_id)

    def _versions(self, ticket: Ticket, agent_id: str, written: str, sent: ReplyInLanguage) -> Translation:
        from helpdesk.languages.multilingual import agent_language, sent_versions

        agent = self._agent(ticket.tenant_id, agent_id)
        return sent_versions(
            self._translations,
            ticket.tenant_id,
            written=written,
            written_language=sent.source_language or agent_language(agent),
            sent=sent.body,
            sent_language=sent.language,
            terms=self._protected_terms(ticket),
        )

    def _not_queued(self, ticket: Ticket, reply: Message, error: Exception) -> None:
        for _ in range(MAX_ATTEMPTS):
            now = self._clock()
            failed = reply.model_copy(
                update={
                    "delivery_status": DeliveryStatus.FAILED,
                    "delivery_error": f"not queued for sending: {type(error).__name__}",
                }
            )
            updated = ticket.model_copy(deep=True)
            updated.updated_at = now
            try:
                self._deliveries.record_delivery(ticket, updated, failed)
                return
            except Conflict:
                fresh = self._repo.get_ticket(ticket.tenant_id, ticket.ticket_id)
                if fresh is None:
                    return
                ticket = fresh
        # Still queued: retry() accepts it once it has been queued for STUCK_AFTER.

    def translate(self, tenant_id: str, agent_id: str, ticket_id: str, request: ReplyTranslationRequest) -> Translation:
        """The agent's draft reply in the buyer's language, for review (nothing is sent or stored
        except the cached translation)."""
        from helpdesk.languages.multilingual import translate_reply
        from helpdesk.languages.translation import MemoryTranslationCache, NoTranslator, TranslationService

        ticket = self._view(tenant_id, ticket_id).ticket
        service = self._translations or TranslationService(NoTranslator(), MemoryTranslationCache())
        return translate_reply(
            service, ticket, self._agent(tenant_id, agent_id), request, self._protected_terms(ticket)
        )

    def preview(self, tenant_id: str, agent_id: str, ticket_id: str, macro_id: str) -> RenderedMacro:
        """The macro rendered for this ticket (what a reply from it would say, and what is missing)."""
        view = self._view(tenant_id, ticket_id)
        return self.render(tenant_id, agent_id, view.ticket, self._macro(tenant_id, macro_id))

    def render(self, tenant_id: str, agent_id: str, ticket: Ticket, macro: Macro) -> RenderedMacro:
        store = self._repo.get_store(tenant_id, ticket.store_id)
        context = placeholder_context(ticket, ticket_order(self._repo, ticket), self._agent(tenant_id, agent_id), store)
        return render(macro, context, [ticket.language, store.default_language if store else None])

    def _agent(self, tenant_id: str, agent_id: str) -> Agent | None:
        return next((a for a in self._repo.list_agents(tenant_id) if a.agent_id == agent_id), None)

    def _protected_terms(self, ticket: Ticket) -> list[str]:
        """What a translation of this ticket's reply must leave as it is: its order's products,
        carrier and numbers, the store's name."""
        from helpdesk.languages.multilingual import protected_terms

        return protected_terms(
            ticket_order(self._repo, ticket), self._repo.get_store(ticket.tenant_id, ticket.store_id)
        )

    def _macro(self, tenant_id: str, macro_id: str) -> Macro:
        macro = self._macros.get_macro(tenant_id, macro_id)
        if macro is None:
            raise NotFound("macro not found", macro_id=macro_id)
        return macro

    def _view(self, tenant_id: str, ticket_id: str) -> TicketView:
        return found_view(self._repo, tenant_id, ticket_id)


# --- dispatching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchResult:
    outcome: Literal["sent", "already_sent", "already_claimed", "failed", "retry", "gone"]
    error: str | None = None


class RetryLater(Exception):
    """The channel was not reached or asked us to slow down: let the queue deliver it again."""


def retryable(error: ChannelError) -> bool:
    """Safe and worth trying again: the channel never got the request, or refused it for load."""
    status = error.details.get("status")
    if isinstance(status, int):
        return status in RETRYABLE_STATUSES
    return error.details.get("reached") is False


class DispatchService:
    def __init__(
        self,
        repository: AgentReplyRepository,
        deliveries: DeliveryLog,
        channel: ReplyChannel,
        timers: SlaTimers,
        clock: Callable[[], datetime] = utc_now,
        claims: DeliveryClaims | None = None,
    ) -> None:
        self._repo = repository
        self._deliveries = deliveries
        self._claims: DeliveryClaims = claims or deliveries  # type: ignore[assignment]
        self._channel = channel
        self._timers = timers
        self._clock = clock

    def dispatch(self, tenant_id: str, ticket_id: str, message_id: str, *, final_attempt: bool) -> DispatchResult:
        view = self._repo.get_ticket_view(tenant_id, ticket_id)
        if view is None:
            return DispatchResult("gone", "ticket not found")
        reply = _reply_in(view, message_id)
        if reply.delivery_status == DeliveryStatus.SENT:
            return DispatchResult("already_sent")
        if reply.delivery_status == DeliveryStatus.FAILED:
            return DispatchResult("failed", reply.delivery_error)  # waits for the agent's retry
        if reply.delivery_status == DeliveryStatus.SENDING:
            # A dispatch took it and never recorded the outcome (crashed or timed out, perhaps after
            # the channel accepted it): sending again could double it, so the agent decides.
            return self._failed(view, reply, UNKNOWN_OUTCOME)
        store = self._repo.get_store(tenant_id, reply.store_id)
        if store is None or store.disconnected_at is not None:
            return self._failed(view, reply, "the store is disconnected: the reply cannot be sent")
        if not self._claims.claim_delivery(reply):
            return DispatchResult("already_claimed")
        sending = reply.model_copy(update={"delivery_status": DeliveryStatus.SENDING})
        try:
            channel_id = self._channel.send(store, view.ticket, sending, last_inbound(view))
        except ChannelError as exc:
            if retryable(exc) and not final_attempt:
                self._note_attempt(view, sending, exc.message)
                raise RetryLater(exc.message) from exc
            return self._failed(view, sending, _describe(exc))
        self._sent(view, sending, channel_id)
        return DispatchResult("sent")

    def _sent(self, view: TicketView, reply: Message, channel_id: str) -> None:
        def outcome(view: TicketView, now: datetime) -> tuple[Ticket, Message, list[Message]]:
            ticket = view.ticket
            sent = reply.model_copy(
                update={
                    "delivery_status": DeliveryStatus.SENT,
                    "delivery_error": None,
                    "sent_at": now,
                    "channel_message_id": channel_id,
                    "delivery_attempts": reply.delivery_attempts + 1,
                    "answer_due_at": ticket.sla_due_at,
                }
            )
            newer = [
                m for m in view.messages if m.direction == MessageDirection.INBOUND and m.message_id > reply.message_id
            ]
            if ticket.merged_into or reply.automation in NOT_A_RESPONSE:
                # Merged while the reply was on its way: the closed source stays closed. An
                # acknowledgement or a proactive message is not an answer: the SLA keeps running.
                updated = ticket.model_copy(deep=True)
                updated.updated_at = now
            elif newer:
                # The buyer wrote after the reply was written: that message still owes an answer,
                # so the ticket's status stays and a next-response deadline runs from it.
                updated = still_owed(ticket, now, newer[0].created_at, self._policy(ticket))
            else:
                updated = answered(
                    ticket, now, reply.status_after or TicketStatus.WAITING_ON_CUSTOMER, self._policy(ticket)
                )
            return updated, sent, []

        updated = self._record(view, outcome, "could not record the sent reply")
        rearmed = updated is not None and updated.sla_timer_version != view.ticket.sla_timer_version
        request = sla_timers.timer_request(updated) if updated is not None and rearmed else None
        if request is not None:
            self._timers.start(request)

    def _failed(self, view: TicketView, reply: Message, error: str) -> DispatchResult:
        def outcome(view: TicketView, now: datetime) -> tuple[Ticket, Message, list[Message]]:
            failed = reply.model_copy(
                update={
                    "delivery_status": DeliveryStatus.FAILED,
                    "delivery_error": error[:1000],
                    "delivery_attempts": reply.delivery_attempts + 1,
                }
            )
            updated = view.ticket.model_copy(deep=True)
            updated.updated_at = now
            event = timeline_event(updated, now, f"Reply {reply.message_id} was not sent: {error[:300]}")
            return updated, failed, [event]

        if self._record(view, outcome, "could not record the failed reply") is None:
            return DispatchResult("gone", "ticket not found")
        return DispatchResult("failed", error)

    def _record(
        self,
        view: TicketView,
        outcome: Callable[[TicketView, datetime], tuple[Ticket, Message, list[Message]]],
        gave_up: str,
    ) -> Ticket | None:
        """Write a delivery outcome (the ticket, the reply, events) decided on ``view``; a concurrent
        change is re-read and the outcome decided again. The ticket as stored, or None when it is gone."""
        for _ in range(MAX_ATTEMPTS):
            updated, reply, events = outcome(view, self._clock())
            try:
                self._deliveries.record_delivery(view.ticket, updated, reply, events)
                return updated
            except Conflict:
                fresh = self._repo.get_ticket_view(view.ticket.tenant_id, view.ticket.ticket_id)
                if fresh is None:
                    return None
                view = fresh
        raise Conflict(gave_up, ticket_id=view.ticket.ticket_id)

    def _note_attempt(self, view: TicketView, reply: Message, error: str) -> None:
        noted = reply.model_copy(
            update={
                "delivery_status": DeliveryStatus.QUEUED,  # the queue delivers it again
                "delivery_error": f"retrying: {error[:300]}",
                "delivery_attempts": reply.delivery_attempts + 1,
            }
        )
        updated = view.ticket.model_copy(deep=True)
        try:
            self._deliveries.record_delivery(view.ticket, updated, noted)
        except Conflict:
            pass  # only bookkeeping: the retry happens anyway

    def _policy(self, ticket: Ticket) -> SlaPolicySpec | None:
        if not ticket.sla_policy_id:
            return None
        return next(
            (p for p in self._repo.list_policy_specs(ticket.tenant_id) if p.policy_id == ticket.sla_policy_id), None
        )


def outbound_reply(
    view: TicketView,
    now: datetime,
    *,
    body: str,
    language: str | None,
    author: str,
    author_id: str | None,
    macro_id: str | None,
    status_after: TicketStatus | None,
) -> Message:
    """A reply to the ticket's last buyer message, stored ``queued`` for the dispatcher: it goes back
    through the channel (and thread) that message came from."""
    ticket = view.ticket
    answering = last_inbound(view)
    return Message(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=new_id(now),
        direction=MessageDirection.OUTBOUND,
        channel=answering.channel if answering else ticket.channel,
        store_id=answering.store_id if answering else ticket.store_id,
        channel_thread_id=(answering.channel_thread_id if answering else None) or ticket.channel_thread_id,
        author=author,
        author_id=author_id,
        body=body,
        language=language,
        macro_id=macro_id,
        delivery_status=DeliveryStatus.QUEUED,
        status_after=status_after,
        created_at=now,
        answers_since=owed_since(view),
    )


def answered(ticket: Ticket, at: datetime, status_after: TicketStatus, policy: SlaPolicySpec | None) -> Ticket:
    """The ticket once a reply was accepted at ``at``: first response recorded, the running deadline
    stopped (new timer version), the next-response deadline re-armed if it stays in the queue."""
    updated = ticket.model_copy(deep=True)
    updated.updated_at = at
    if updated.first_responded_at is None:
        updated.first_responded_at = at
    updated.status = status_after
    updated.snoozed_until = None
    updated.sla_timer_version += 1
    updated.sla_breached_at = None
    updated.sla_warned_at = None
    updated.sla_warn_at = None
    updated.next_response_due_at = None
    if updated.status.in_queue:
        updated.next_response_due_at, updated.sla_warn_at = _next_due(policy, at)
    return updated


def still_owed(ticket: Ticket, at: datetime, since: datetime, policy: SlaPolicySpec | None) -> Ticket:
    """The ticket once a reply was accepted at ``at`` while a buyer message of ``since`` is newer."""
    updated = ticket.model_copy(deep=True)
    updated.updated_at = at
    first = updated.first_responded_at is None
    updated.first_responded_at = updated.first_responded_at or at
    if first or updated.next_response_due_at is None:
        updated.sla_timer_version += 1
        updated.sla_breached_at = updated.sla_warned_at = None
        updated.next_response_due_at, updated.sla_warn_at = _next_due(policy, since)
    return updated


def _next_due(policy: SlaPolicySpec | None, since: datetime) -> tuple[datetime, datetime | None]:
    if policy is None:
        return since + timedelta(minutes=sla_timers.DEFAULT_TARGET.next_response_minutes), None
    due = compute_due(policy, received_at=since, kind="next")
    return due.due_at, due.warn_at


def last_inbound(view: TicketView) -> Message | None:
    inbound = [m for m in view.messages if m.direction == MessageDirection.INBOUND]
    return inbound[-1] if inbound else None


def _reply_in(view: TicketView, message_id: str) -> Message:
    reply = next((m for m in view.messages if m.message_id == message_id), None)
    if reply is None or reply.direction != MessageDirection.OUTBOUND:
        raise NotFound("reply not found", message_id=message_id)
    return reply


def _describe(error: ChannelError) -> str:
    status = error.details.get("status")
    body = error.details.get("body")
    text = error.message
    if status is not None and str(status) not in text:
        text += f" (HTTP {status})"
    if body:
        text += f": {str(body)[:300]}"
    return text

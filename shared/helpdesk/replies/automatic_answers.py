"""Automatic replies and drafts the seller's rules ask for, carried out after the intake routed a
buyer's message (the intake workflow's ``Automate`` step). Plain Python.

What a rule can ask for (``helpdesk.routing.rules``):

* ``send_macro`` — an **automatic answer** (WISMO with the carrier, tracking link and delivery
  window): the macro rendered in the customer's language, queued for the reply dispatcher like an
  agent's reply, marked ``automation: answer``. It counts as the response (first response recorded,
  ticket waiting on the customer) because the buyer got the answer they asked for. It is sent only
  when the macro has a body in the customer's language and every placeholder has a value; otherwise
  it becomes the ticket's **draft** with what is missing, and the ticket stays in the queue: a buyer
  never reads "your tracking number is ." nor an answer in a language they did not write in.
* ``acknowledge`` — an **acknowledgement** ("we got your message, we answer on Monday"), typically
  with a ``business_hours: false`` condition. Sent the same way, marked ``automation:
  acknowledgement``; it does not count as a response: the SLA keeps running.
* ``draft_macro`` / ``draft_reply`` — a **draft** for the agent (a macro rendered, or the drafter:
  Bedrock in AWS, the deterministic local drafter offline). Never sent without an agent.

Each macro is sent at most once per ticket (``Ticket.automated``), so a buyer writing three times
gets one acknowledgement. A rule's draft replaces an earlier rule's draft, never an agent's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, HelpdeskError, NotFound
from helpdesk.core.models import (
    ID_PATTERN,
    Automation,
    Draft,
    Macro,
    Message,
    Model,
    Order,
    Store,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.languages.tags import same_primary_language
from helpdesk.replies.agent_replies import outbound_reply
from helpdesk.replies.drafting import DraftContext, DraftUnavailable, PolicySnippet
from helpdesk.replies.macros import MacroRenderError, placeholder_context, render
from helpdesk.replies.ports import Drafter, MacroSource, ReplyQueue, ReplyRepository, SnippetConfig, SnippetSource
from helpdesk.routing.intake import timeline_event
from helpdesk.tickets.threads import found_view, ticket_order

MAX_ATTEMPTS = 5
AI_DRAFT = "ai"


class DraftNotAvailable(HelpdeskError):
    code = "draft_unavailable"
    status = 503


class DraftRequest(Model):
    macro_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="Draft from this macro; left out: the drafter writes it"
    )


class AutomationPlan(Model):
    """What the rules asked for on this message (``IntakeDecision.automation``)."""

    answers: list[str] = Field(default_factory=list, description="Macros to send as automatic answers")
    acknowledgements: list[str] = Field(default_factory=list, description="Macros to send as acknowledgements")
    draft: str | None = Field(default=None, description="A macro id to draft from, or 'ai' for the drafter")

    @property
    def empty(self) -> bool:
        return not (self.answers or self.acknowledgements or self.draft)


class AutomationService:
    def __init__(
        self,
        repository: ReplyRepository,
        macros: MacroSource,
        queue: ReplyQueue,
        drafter: Drafter | None = None,
        snippets: SnippetSource | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._repo = repository
        self._macros = macros
        self._queue = queue
        self._drafter = drafter
        self._snippets = snippets
        self._clock = clock

    def run(self, tenant_id: str, ticket_id: str, plan: AutomationPlan) -> dict[str, Any]:
        """Carry out ``plan`` on the ticket: one conditional write (replies, draft, events), then the
        replies queued for sending. Returns what was sent, drafted and skipped."""
        if plan.empty:
            return {"sent": [], "draft": None, "skipped": []}
        for _ in range(MAX_ATTEMPTS):
            view = found_view(self._repo, tenant_id, ticket_id)
            ticket = view.ticket
            if ticket.merged_into or ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
                return {"sent": [], "draft": None, "skipped": [f"ticket is {ticket.status.value}"]}
            now = self._clock()
            store = self._repo.get_store(tenant_id, ticket.store_id)
            order = self._order(ticket)
            language = ticket.language or (store.default_language if store else None) or "en"
            updated = ticket.model_copy(deep=True)
            updated.updated_at = now
            replies: list[Message] = []
            events: list[Message] = []
            skipped: list[str] = []
            draft: Draft | None = None

            kinds = [(Automation.ACKNOWLEDGEMENT, m) for m in plan.acknowledgements] + [
                (Automation.ANSWER, m) for m in plan.answers
            ]
            for kind, macro_id in kinds:
                if macro_id in updated.automated:
                    skipped.append(f"{macro_id}: already sent on this ticket")
                    continue
                macro = self._macros.get_macro(tenant_id, macro_id)
                if macro is None:
                    skipped.append(f"{macro_id}: no such macro")
                    events.append(
                        timeline_event(
                            updated, now, f"Automatic {kind.value} {macro_id} not sent: the macro does not exist"
                        )
                    )
                    continue
                body, problem, rendered_language, missing = buyer_text(macro, ticket, order, store, language)
                if problem is not None:
                    skipped.append(f"{macro_id}: {problem}")
                    text = f"Automatic {kind.value} {macro_id} not sent: {problem}"
                    if kind == Automation.ANSWER and body:
                        draft = Draft(
                            body=body,
                            language=rendered_language,
                            source="macro",
                            macro_id=macro_id,
                            missing=missing,
                            note=f"not sent automatically: {problem}",
                            created_at=now,
                        )
                        text += "; prepared as a draft"
                    events.append(timeline_event(updated, now, text))
                    continue
                status_after = TicketStatus.WAITING_ON_CUSTOMER if kind == Automation.ANSWER else None
                reply = outbound_reply(
                    view,
                    now,
                    body=body,
                    language=rendered_language,
                    author="automation",
                    author_id=None,
                    macro_id=macro_id,
                    status_after=status_after,
                )
                reply.automation = kind
                replies.append(reply)
                updated.automated = [*updated.automated, macro_id]
                if kind == Automation.ANSWER:
                    updated.tags = list(dict.fromkeys([*updated.tags, *macro.tags]))

            replies = _without_needless_acknowledgements(replies, updated, skipped)
            if plan.draft and draft is None:
                draft = self._draft(plan.draft, view, order, store, language, now, events, updated)
            if draft is not None and (ticket.draft is None or ticket.draft.created_by == "system"):
                updated.draft = draft
            try:
                self._repo.update_ticket(ticket, updated, [*replies, *events])
            except Conflict:
                continue
            unqueued = self._queue_all(tenant_id, ticket_id, replies)
            return {
                "sent": [
                    {
                        "macro_id": r.macro_id,
                        "automation": r.automation.value if r.automation else None,
                        "message_id": r.message_id,
                    }
                    for r in replies
                ],
                "draft": updated.draft.source if updated.draft and updated.draft != ticket.draft else None,
                "skipped": skipped,
                "not_queued": unqueued,
            }
        raise Conflict("the ticket kept changing during automation", ticket_id=ticket_id)

    def _queue_all(self, tenant_id: str, ticket_id: str, replies: list[Message]) -> list[str]:
        """Queue the stored replies for the dispatcher; the ids of those the queue refused."""
        unqueued = []
        for reply in replies:
            try:
                self._queue.publish(tenant_id, ticket_id, reply.message_id)
            except Exception:  # noqa: BLE001 - stored queued: an agent can retry it after a few minutes
                unqueued.append(reply.message_id)
        return unqueued

    # --- drafts ---------------------------------------------------------------------------------

    def prepare_draft(self, tenant_id: str, agent_id: str, ticket_id: str, macro_id: str | None) -> Draft:
        """A draft an agent asks for (from a macro, or the drafter), kept on the ticket for whoever
        answers it. 503 ``draft_unavailable`` with the reason when none could be prepared."""
        if macro_id is not None and self._macros.get_macro(tenant_id, macro_id) is None:
            raise NotFound("macro not found", macro_id=macro_id)
        for _ in range(MAX_ATTEMPTS):
            view = found_view(self._repo, tenant_id, ticket_id)
            ticket = view.ticket
            now = self._clock()
            store = self._repo.get_store(tenant_id, ticket.store_id)
            language = ticket.language or (store.default_language if store else None) or "en"
            events: list[Message] = []
            draft = self._draft(macro_id or AI_DRAFT, view, self._order(ticket), store, language, now, events, ticket)
            if draft is None:
                raise DraftNotAvailable(events[-1].body if events else "no draft could be prepared")
            draft = draft.model_copy(update={"created_by": agent_id})
            updated = ticket.model_copy(deep=True)
            updated.draft = draft
            updated.updated_at = now
            try:
                self._repo.update_ticket(ticket, updated)
            except Conflict:
                continue
            return draft
        raise Conflict("the ticket kept changing; try again", ticket_id=ticket_id)

    def discard_draft(self, tenant_id: str, ticket_id: str) -> Ticket:
        for _ in range(MAX_ATTEMPTS):
            ticket = found_view(self._repo, tenant_id, ticket_id).ticket
            if ticket.draft is None:
                return ticket
            updated = ticket.model_copy(deep=True)
            updated.draft = None
            updated.updated_at = self._clock()
            try:
                self._repo.update_ticket(ticket, updated)
            except Conflict:
                continue
            return updated
        raise Conflict("the ticket kept changing; try again", ticket_id=ticket_id)

    def _draft(
        self,
        source: str,
        view: TicketView,
        order: Order | None,
        store: Store | None,
        language: str,
        now: datetime,
        events: list[Message],
        ticket: Ticket,
    ) -> Draft | None:
        tenant_id = view.ticket.tenant_id
        if source != AI_DRAFT:
            macro = self._macros.get_macro(tenant_id, source)
            if macro is None:
                events.append(timeline_event(ticket, now, f"Draft from macro {source} not prepared: no such macro"))
                return None
            body, problem, rendered_language, missing = buyer_text(macro, view.ticket, order, store, language)
            if not body:
                events.append(timeline_event(ticket, now, f"Draft from macro {source} not prepared: {problem}"))
                return None
            return Draft(
                body=body,
                language=rendered_language,
                source="macro",
                macro_id=source,
                missing=missing,
                note=problem,
                created_at=now,
            )
        if self._drafter is None:
            events.append(timeline_event(ticket, now, "AI draft not prepared: no drafter is configured"))
            return None
        context = DraftContext(
            tenant_id=tenant_id,
            ticket=view.ticket,
            thread=list(view.messages),
            order=order,
            store=store,
            agent_name=None,
            language=language,
            macros=self._macros.list_macros(tenant_id),
            snippets=self._snippets.list_snippets(tenant_id) if self._snippets else [],
        )
        try:
            return self._drafter.draft(context, now)
        except DraftUnavailable as exc:
            events.append(timeline_event(ticket, now, f"AI draft not prepared: {exc}"))
            return None

    # --- helpers --------------------------------------------------------------------------------

    def _order(self, ticket: Ticket) -> Order | None:
        return ticket_order(self._repo, ticket)


def _without_needless_acknowledgements(replies: list[Message], updated: Ticket, skipped: list[str]) -> list[Message]:
    """When an answer goes out, an acknowledgement of the same run ("we answer on Monday") would arrive
    beside it: it is dropped (and may be sent another time), the reason added to ``skipped``."""
    if not any(r.automation == Automation.ANSWER for r in replies):
        return replies
    dropped = [r for r in replies if r.automation == Automation.ACKNOWLEDGEMENT]
    skipped += [f"{r.macro_id}: not needed, the buyer got an answer" for r in dropped]
    updated.automated = [m for m in updated.automated if m not in {r.macro_id for r in dropped}]
    return [r for r in replies if r.automation != Automation.ACKNOWLEDGEMENT]


def buyer_text(
    macro: Macro, ticket: Ticket, order: Order | None, store: Store | None, language: str, also: Sequence[str] = ()
) -> tuple[str, str | None, str, list[str]]:
    """A macro rendered for the buyer with no agent to look at it first (automatic answers, proactive
    messages): (text, why it must not be sent or None, its language, the placeholders without a value).
    Sendable only in ``language`` (or one of ``also``) with every placeholder filled."""
    try:
        rendered = render(
            macro,
            placeholder_context(ticket, order, None, store),
            [language, store.default_language if store else None],
        )
    except MacroRenderError as exc:
        return "", f"it cannot be rendered ({exc.message})", language, []
    if not any(same_primary_language(rendered.language, wanted) for wanted in (language, *also)):
        return rendered.body, f"the macro has no {language} text", rendered.language, rendered.missing
    if rendered.missing:
        return rendered.body, f"no value for {', '.join(rendered.missing)}", rendered.language, rendered.missing
    return rendered.body, None, rendered.language, []


class SnippetsInvalid(HelpdeskError):
    code = "invalid_policy_snippets"
    status = 422


MAX_SNIPPETS = 100


def replace_snippets(config: SnippetConfig, tenant_id: str, raw: object) -> list[PolicySnippet]:
    """The seller's policy snippets for AI drafts, replaced as a whole."""
    from helpdesk.core.validation import validate_list

    snippets = validate_list(
        raw,
        PolicySnippet,
        "snippet_id",
        what="policy snippets",
        noun="snippet",
        limit=MAX_SNIPPETS,
        error=SnippetsInvalid,
        tenant_id=tenant_id,
    )
    config.put_snippets(tenant_id, snippets)
    return snippets

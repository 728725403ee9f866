"""What the product sends by itself (admins): proactive messages and the policy snippets drafts quote."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api.setup.common import admin
from helpdesk.platform import wiring
from helpdesk.replies import proactive
from helpdesk.replies.automatic_answers import replace_snippets
from helpdesk.replies.drafting import PolicySnippet
from helpdesk.replies.proactive import Nudge

router = Router()


@router.get("/nudges")
def list_nudges() -> list[Nudge]:
    """Proactive messages: the macro sent to the buyer when an order ships, is delivered, cancelled or delayed."""
    return wiring.repository().list_nudges(admin(router).tenant_id)


@router.put("/nudges")
def replace_nudges(nudges: list[dict[str, Any]]) -> list[Nudge]:
    """Replace the proactive messages (each names an event and a macro that exists; 422 lists every problem)."""
    return proactive.replace_nudges(wiring.repository(), wiring.macro_store(), admin(router).tenant_id, nudges)


@router.get("/policy-snippets")
def list_policy_snippets() -> list[PolicySnippet]:
    """The seller's policies (returns, shipping, cancellations) the AI drafter may quote, per intent."""
    return wiring.repository().list_snippets(admin(router).tenant_id)


@router.put("/policy-snippets")
def replace_policy_snippets(snippets: list[dict[str, Any]]) -> list[PolicySnippet]:
    """Replace the policy snippets (every invalid one is reported at once, 422)."""
    return replace_snippets(wiring.repository(), admin(router).tenant_id, snippets)

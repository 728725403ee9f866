"""Key shapes of the single table (docs/data-model.md explains every access pattern).

The tenant id is the first part of every partition key, base table and indexes alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

    from helpdesk.core.models import Order
    from helpdesk.reports.aggregates import Breach
    from helpdesk.sla.timers import TimerRequest

TICKET_SK = "TICKET"
MESSAGE_PREFIX = "MSG#"
LINK_PREFIX = "LINK#"
TICKET_LOOKUP_PREFIX = "TICKET#"
ORDER_LOOKUP_PREFIX = "ORDER#"

# Index names (template.yaml declares the same).
TENANT_QUEUE = "TenantQueue"
TEAM_QUEUE = "TeamQueue"
AGENT_QUEUE = "AgentQueue"
LOOKUP = "Lookup"
STATUS_INDEX = "StatusIndex"
SNOOZED = "Snoozed"  # sparse: snoozed tickets by wake-up time (the aging run wakes the due ones)
OUTBOX = "Outbox"  # sparse: outbound messages still queued, by when to look at them (the aging run re-queues)

VIEW_PREFIX = "VIEW#"
NOTIFICATION_PREFIX = "NOTIFY#"
PRESENCE_PREFIX = "PRESENCE#"


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def store_sk(store_id: str) -> str:
    return f"STORE#{store_id}"


def sla_policy_sk(policy_id: str) -> str:
    return f"SLA#{policy_id}"


def ingest_error_sk(store_id: str, at: datetime, delivery_id: str) -> str:
    return f"INGESTERR#{store_id}#{sortable(at)}#{delivery_id}"


def agent_sk(agent_id: str) -> str:
    return f"AGENT#{agent_id}"


AGENT_PREFIX = "AGENT#"
TEAM_PREFIX = "TEAM#"
NUDGES_SK = "NUDGES"  # the tenant's proactive messages, one item
SNIPPETS_SK = "SNIPPETS"  # the tenant's policy snippets for AI drafts, one item
AGING_SK = "AGING"  # the tenant's aging steps, one item (absent: the default steps apply)


def team_sk(team_id: str) -> str:
    return f"{TEAM_PREFIX}{team_id}"


def rule_sk(rule_id: str) -> str:
    return f"RULE#{rule_id}"


def policy_spec_sk(policy_id: str) -> str:
    return f"SLAPOLICY#{policy_id}"


def cursor_sk(store_id: str, stream: str) -> str:
    return f"CURSOR#{store_id}#{stream}"


def health_sk(store_id: str) -> str:
    return f"HEALTH#{store_id}"


def ticket_pk(tenant_id: str, ticket_id: str) -> str:
    return f"TENANT#{tenant_id}#TICKET#{ticket_id}"


def message_sk(created_at: datetime, message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{sortable(created_at)}#{message_id}"


def channel_message_pk(tenant_id: str, store_id: str, channel_message_id: str) -> str:
    return f"TENANT#{tenant_id}#CHMSG#{store_id}#{channel_message_id}"


def thread_pk(tenant_id: str, store_id: str, thread_id: str) -> str:
    return f"TENANT#{tenant_id}#THREAD#{store_id}#{thread_id}"


def order_pk(tenant_id: str, store_id: str, order_ref: str) -> str:
    return f"TENANT#{tenant_id}#ORDER#{store_id}#{order_ref}"


def order_lookup_pk(tenant_id: str, store_id: str, order_ref: str) -> str:
    return f"TENANT#{tenant_id}#ORDERREF#{store_id}#{order_ref}"


def email_lookup_pk(tenant_id: str, email: str) -> str:
    return f"TENANT#{tenant_id}#EMAIL#{email.lower()}"


def order_lookup_sk(order: Order) -> str:
    """Sort key of an order in its buyer's e-mail partition of the Lookup index: newest first."""
    moment = order.ordered_at or order.updated_at or datetime(1970, 1, 1, tzinfo=UTC)
    return f"{ORDER_LOOKUP_PREFIX}{sortable(moment)}#{order.store_id}#{order.order_ref}"


def tenant_queue_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#QUEUE"


def team_queue_pk(tenant_id: str, team_id: str) -> str:
    return f"TENANT#{tenant_id}#TEAM#{team_id}#QUEUE"


def agent_queue_pk(tenant_id: str, agent_id: str) -> str:
    return f"TENANT#{tenant_id}#AGENT#{agent_id}#QUEUE"


def queue_sk(due_at: datetime, ticket_id: str) -> str:
    return f"{sortable(due_at)}#{ticket_id}"


def status_pk(tenant_id: str, status: str) -> str:
    """StatusIndex partition: the tenant's tickets in one status outside the queues (snoozed, ...)."""
    return f"TENANT#{tenant_id}#STATUS#{status}"


def status_sk(updated_at: datetime, ticket_id: str) -> str:
    return f"{sortable(updated_at)}#{ticket_id}"


def view_sk(owner_id: str, view_id: str, shared: bool) -> str:
    """A saved view in the tenant partition: private ones under their owner, shared ones together."""
    return f"{VIEW_PREFIX}SHARED#{view_id}" if shared else f"{VIEW_PREFIX}AGENT#{owner_id}#{view_id}"


def private_views_prefix(agent_id: str) -> str:
    return f"{VIEW_PREFIX}AGENT#{agent_id}#"


SHARED_VIEWS_PREFIX = f"{VIEW_PREFIX}SHARED#"


def notifications_pk(tenant_id: str, agent_id: str) -> str:
    return f"TENANT#{tenant_id}#AGENT#{agent_id}#NOTIFY"


def notification_sk(notification_id: str) -> str:
    """Notification ids are time-sortable (``ids.new_id``): the partition reads newest first."""
    return f"{NOTIFICATION_PREFIX}{notification_id}"


def presence_sk(agent_id: str) -> str:
    return f"{PRESENCE_PREFIX}{agent_id}"


def snoozed_pk(tenant_id: str) -> str:
    """Snoozed index partition; its sort key is ``queue_sk(snoozed_until, ticket)``: due ones first."""
    return f"TENANT#{tenant_id}#SNOOZED"


def outbox_pk(tenant_id: str) -> str:
    """Outbox index partition: the tenant's outbound messages still ``queued`` (sparse: the write that
    claims one for sending removes it)."""
    return f"TENANT#{tenant_id}#OUTBOX"


def outbox_sk(check_at: datetime, ticket_id: str, message_id: str) -> str:
    """When to look at a queued message again (it should have been sent by then), then its ids."""
    return f"{sortable(check_at)}#{ticket_id}#{message_id}"


def from_sortable(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def sortable(moment: datetime) -> str:
    """Fixed-width UTC timestamp: lexical order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def channel_route_pk(channel: str, account_id: str) -> str:
    """The one partition not led by a tenant: a pointer from a channel account (an Amazon seller id)
    to the tenant's store, for pushes that do not name the tenant (SP-API notifications on one SQS
    queue). It holds ids only."""
    return f"ROUTE#{channel}#{account_id}"


def sla_timer_input(request: TimerRequest) -> dict[str, str]:
    """The SLA timer state machine's input: the request plus the ticket item's key it updates."""
    payload = request.model_dump(exclude_none=True)
    payload.update(pk=ticket_pk(request.tenant_id, request.ticket_id), sk=TICKET_SK)
    return payload


# --- reports (helpdesk.adapters.report_store) and the translation cache ---------------------------

OPEN_SK = "STATS#OPEN"  # under tenant_pk: the tenant's open-ticket count
TRANSLATION_SK = "XLATE"


def stats_pk(tenant_id: str, dimension: str) -> str:
    return f"TENANT#{tenant_id}#STATS#{dimension}"


def stats_sk(day: date, value: str) -> str:
    return f"{day.isoformat()}#{value}"


def breaches_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#BREACHES"


def breach_sk(day: date, breach: Breach) -> str:
    return f"{day.isoformat()}#{sortable(breach.breached_at)}#{breach.ticket_id}"


def batch_marker_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#STATSBATCH"


def translation_pk(tenant_id: str, key: str) -> str:
    return f"{tenant_pk(tenant_id)}#XLATE#{key}"

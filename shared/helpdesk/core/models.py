"""Domain model of the helpdesk: plain pydantic v2, no AWS here.

Every record belongs to exactly one tenant (a seller account). Connectors turn a channel's own
payloads into the two canonical models at the bottom of this module, ``InboundMessage`` and
``OrderEvent``; everything after ingestion works on those only.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _normalise_email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("not a valid e-mail address")
    return value


EmailStr = Annotated[str, AfterValidator(_normalise_email)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- enumerations -------------------------------------------------------------------------------


class Channel(StrEnum):
    MIRAKL = "mirakl"
    AMAZON = "amazon"
    EBAY = "ebay"
    WALMART = "walmart"
    TIKTOK = "tiktok"
    ETSY = "etsy"
    SHOPIFY = "shopify"
    BIGCOMMERCE = "bigcommerce"
    WOOCOMMERCE = "woocommerce"
    MAGENTO = "magento"
    EMAIL = "email"
    CHAT = "chat"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    SNOOZED = "snoozed"  # out of the queues until ``snoozed_until`` (or the buyer writes)
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def in_queue(self) -> bool:
        """Tickets an agent still owes an answer on: they sit in the SLA-sorted queues."""
        return self in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Intent(StrEnum):
    CANCELLATION = "cancellation"
    WISMO = "wismo"
    RETURN_REFUND = "return_refund"
    DAMAGED_WRONG_ITEM = "damaged_wrong_item"
    ADDRESS_CHANGE = "address_change"
    PRODUCT_QUESTION = "product_question"
    INVOICE_REQUEST = "invoice_request"
    OTHER = "other"


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"
    EVENT = "event"  # a change recorded on the timeline by the system (routing, aging, SLA)


class DeliveryStatus(StrEnum):
    """Where an agent's reply is: stored and waiting for the dispatcher, being handed to the channel,
    accepted by the channel, or refused / unreachable / of unknown outcome (the agent may retry it)."""

    QUEUED = "queued"
    SENDING = "sending"  # claimed by one dispatch: never handed to the channel twice
    SENT = "sent"
    FAILED = "failed"


class AgentRole(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    READ_ONLY = "read_only"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    ON_HOLD = "on_hold"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class OrderEventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    CANCELLATION_REQUESTED = "cancellation_requested"
    REFUNDED = "refunded"
    DELETED = "deleted"


# --- tenant configuration -----------------------------------------------------------------------


class Tenant(Model):
    tenant_id: str = Field(pattern=ID_PATTERN)
    name: str
    time_zone: str = "UTC"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    default_sla_policy_id: str | None = None
    created_at: datetime


class Store(Model):
    """A connected channel account (one WooCommerce shop, one Mirakl marketplace, ...)."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    store_id: str = Field(pattern=ID_PATTERN)
    channel: Channel
    display_name: str
    default_language: str = "en"
    brand_signature: str = Field(default="", description="Signature when none is set for the language")
    # Brand voice: how this store greets and signs off, per language (macros' store.greeting and
    # store.signature placeholders; e-mail replies append the signature in the reply's language).
    greetings: dict[str, str] = Field(default_factory=dict, description="Greeting per language code")
    signatures: dict[str, str] = Field(default_factory=dict, description="Signature per language code")
    base_url: str | None = None
    # Credentials and webhook secrets live in Secrets Manager; the store keeps only the name.
    secret_name: str | None = None
    sla_policy_id: str | None = None
    # Stores whose orders this store's messages may be about (an e-mail inbox serving a Shopify shop,
    # the Amazon relay for an Amazon seller account): order refs found in a message are looked up
    # there too, so the e-mail and the order's own ticket become one timeline.
    linked_store_ids: list[str] = Field(default_factory=list)
    # Paused: not polled (webhook deliveries are still kept). Disconnected: webhooks removed, secret
    # deleted, deliveries refused; the record stays so old tickets still name their store.
    active: bool = True
    disconnected_at: datetime | None = None
    webhook_ids: list[str] = Field(default_factory=list, description="The channel's ids of our subscriptions")
    account_label: str | None = Field(default=None, description="What the channel calls the account")
    created_at: datetime


class StoreHealth(Model):
    """How a polled store is doing: shown to the seller, and drives the poller's backoff."""

    tenant_id: str
    store_id: str
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_message_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = Field(default=0, ge=0)
    next_poll_after: datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


class IngestError(Model):
    """A delivery that could not be read: kept under ``quarantine/`` and shown to the seller."""

    tenant_id: str
    store_id: str
    channel: Channel
    delivery_id: str
    reason: str
    quarantine_key: str
    at: datetime


class CustomerIdentity(Model):
    channel: Channel
    store_id: str
    external_id: str


class Customer(Model):
    tenant_id: str
    customer_id: str
    name: str | None = None
    emails: list[EmailStr] = Field(default_factory=list)
    identities: list[CustomerIdentity] = Field(default_factory=list)


class Agent(Model):
    tenant_id: str
    agent_id: str = Field(pattern=ID_PATTERN)
    name: str
    email: EmailStr
    role: AgentRole = AgentRole.AGENT
    languages: list[str] = Field(default_factory=lambda: ["en"])
    team_ids: list[str] = Field(default_factory=list)
    active: bool = True
    # Working hours as a ``helpdesk.sla.calendars.BusinessCalendar`` (JSON); None: always on shift.
    shift: dict[str, Any] | None = None
    last_assigned_at: datetime | None = Field(default=None, description="For round-robin assignment")


class Team(Model):
    tenant_id: str
    team_id: str = Field(pattern=ID_PATTERN)
    name: str
    time_zone: str = "UTC"


class SlaTarget(Model):
    """Minutes to first response and to each next response."""

    first_response_minutes: int = Field(gt=0)
    next_response_minutes: int = Field(gt=0)
    warning_ratio: float = Field(default=0.8, gt=0, lt=1)


class SlaPolicy(Model):
    tenant_id: str
    policy_id: str = Field(pattern=ID_PATTERN)
    name: str
    target: SlaTarget
    # Narrower matches win: later issues add calendars, intents, channels, priorities.
    intents: list[Intent] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)


class RuleCondition(Model):
    field: str
    op: str = "eq"
    value: str | int | float | bool | list[str]


class RuleAction(Model):
    type: str
    value: str | int | float | bool | list[str] | None = None


class Rule(Model):
    tenant_id: str
    rule_id: str = Field(pattern=ID_PATTERN)
    name: str
    position: int = 0
    enabled: bool = True
    conditions: list[RuleCondition] = Field(default_factory=list)
    actions: list[RuleAction] = Field(default_factory=list)
    stop_processing: bool = False


class Macro(Model):
    tenant_id: str
    macro_id: str = Field(pattern=ID_PATTERN)
    name: str
    bodies: dict[str, str] = Field(description="Template body per language code")
    tags: list[str] = Field(default_factory=list)


# --- orders -------------------------------------------------------------------------------------


class OrderItem(Model):
    sku: str | None = None
    name: str
    quantity: int = Field(ge=0)
    unit_price: Decimal | None = None
    total: Decimal | None = None


class Order(Model):
    tenant_id: str
    store_id: str
    channel: Channel
    order_ref: str = Field(description="The channel's own order id/number as buyers see it")
    status: OrderStatus = OrderStatus.UNKNOWN
    channel_status: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    items: list[OrderItem] = Field(default_factory=list)
    buyer_email: EmailStr | None = None
    buyer_name: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    # The delivery window the channel promised the buyer (estimated earliest / latest delivery).
    delivery_earliest: datetime | None = None
    delivery_latest: datetime | None = None
    ordered_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime | None = None


# --- tickets and messages -----------------------------------------------------------------------


class Attachment(Model):
    s3_key: str
    filename: str
    content_type: str = "application/octet-stream"
    size: int = Field(ge=0)


class Translation(Model):
    """A text in another language, and who produced it. ``translated`` False means ``text`` is the
    original shown as written (no provider, or the provider failed): never passed off as translated."""

    language: str = Field(description="The language of text")
    source_language: str = Field(description="The language it was translated from")
    text: str
    provider: str = Field(description="amazon-translate, agent (written by the agent), none (not translated) ...")
    translated: bool
    note: str | None = Field(default=None, description="Why it is not translated, or what to check")


class Automation(StrEnum):
    """Who sent a reply no agent wrote: a rule's automatic answer, an acknowledgement (does not
    count as a response), or a proactive message on an order event (not a response either)."""

    ANSWER = "answer"
    ACKNOWLEDGEMENT = "acknowledgement"
    NUDGE = "nudge"
    SURVEY = "survey"  # the satisfaction request after resolution: not a response either


class Draft(Model):
    """A reply prepared for the agent to edit and send (never sent by itself)."""

    body: str
    language: str
    source: str = Field(description="macro, local (offline drafter), bedrock ...")
    macro_id: str | None = None
    model: str | None = Field(default=None, description="The AI model that wrote it, if any")
    missing: list[str] = Field(default_factory=list, description="Placeholders the ticket had no value for")
    note: str | None = None
    created_at: datetime
    created_by: str = Field(default="system", description="The agent who asked for it, or system (a rule)")


class Message(Model):
    tenant_id: str
    ticket_id: str
    message_id: str
    direction: MessageDirection
    channel: Channel
    store_id: str
    channel_message_id: str | None = None
    channel_thread_id: str | None = Field(default=None, description="Where a reply must go")
    author: str
    body: str = Field(description="Body exactly as sent or received")
    language: str | None = Field(default=None, description="The language of body")
    translation: Translation | None = Field(
        default=None,
        description="The same text in the other language: for a buyer message, translated into the "
        "reading agent's language (on read, cached); for a translated reply, the "
        "agent's text as written",
    )
    attachments: list[Attachment] = Field(default_factory=list)
    raw_s3_key: str | None = None
    created_at: datetime
    # Agent-written entries (replies, notes): who wrote them and what they mention.
    author_id: str | None = Field(default=None, description="The agent who wrote a reply or note")
    mentions: list[str] = Field(default_factory=list, description="Agent ids @mentioned in a note")
    macro_id: str | None = None
    automation: Automation | None = Field(default=None, description="Set when a rule, not an agent, sent it")
    # Replies only: the outbound half's progress (see helpdesk.replies.agent_replies).
    delivery_status: DeliveryStatus | None = None
    delivery_error: str | None = None
    delivery_attempts: int = Field(default=0, ge=0)
    sent_at: datetime | None = Field(default=None, description="When the channel accepted the reply")
    status_after: TicketStatus | None = Field(default=None, description="The ticket's status once the reply is sent")
    answers_since: datetime | None = Field(
        default=None, description="Replies: when the buyer started waiting for it (next response time)"
    )
    answer_due_at: datetime | None = Field(
        default=None, description="Replies: the deadline in force when the channel accepted it (SLA reports)"
    )


class Ticket(Model):
    tenant_id: str
    ticket_id: str
    store_id: str
    channel: Channel
    subject: str
    status: TicketStatus = TicketStatus.NEW
    priority: Priority = Priority.NORMAL
    tags: list[str] = Field(default_factory=list)
    intent: Intent | None = None
    language: str | None = None
    assignee_id: str | None = None
    team_id: str | None = None
    customer_email: EmailStr | None = None
    customer_name: str | None = None
    channel_thread_id: str | None = None
    order_refs: list[str] = Field(default_factory=list)
    sla_policy_id: str | None = None
    first_response_due_at: datetime | None = None
    next_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    sla_breached_at: datetime | None = None
    sla_breach_inherited_at: datetime | None = Field(
        default=None, description="A merged ticket's breach carried over (already counted on that ticket)"
    )
    sla_warned_at: datetime | None = None
    sla_warn_at: datetime | None = Field(default=None, description="Near-breach point of the current deadline")
    sla_timer_version: int = 0
    intake_error: str | None = Field(default=None, description="Why the intake workflow could not route it")
    last_agent_action_at: datetime | None = Field(
        default=None, description="Assignment, reply or note by the assignee: the aging rules' clock"
    )
    aging_level: int = Field(default=0, ge=0, description="How many aging steps were applied since the last action")
    message_count: int = 0
    snoozed_until: datetime | None = None
    merged_into: str | None = Field(default=None, description="The ticket this one was merged into")
    draft: Draft | None = Field(default=None, description="A prepared reply waiting for an agent")
    automated: list[str] = Field(
        default_factory=list, description="Macros a rule already sent on this ticket (each at most once)"
    )
    csat_requested_at: datetime | None = Field(default=None, description="When the satisfaction request was sent")
    csat_score: int | None = Field(default=None, ge=1, le=5, description="The buyer's rating, 1 (very unhappy) to 5")
    csat_comment: str | None = None
    csat_at: datetime | None = None
    csat_agent_id: str | None = Field(default=None, description="The agent the rating is about")
    version: int = Field(default=1, description="Optimistic-lock counter, bumped on every change")
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None

    @property
    def sla_due_at(self) -> datetime | None:
        """The deadline the queue sorts on: first response until answered, then next response."""
        if self.first_responded_at is None:
            return self.first_response_due_at
        return self.next_response_due_at


class TicketView(Model):
    """A ticket with its timeline, as one Query returns it."""

    ticket: Ticket
    messages: list[Message]


class QueuePage(Model):
    tickets: list[Ticket]
    next_cursor: str | None = None


# --- canonical ingestion models -----------------------------------------------------------------


class InboundMessage(Model):
    """What every connector produces for a buyer's message, whatever the channel."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    store_id: str = Field(pattern=ID_PATTERN)
    channel: Channel
    channel_message_id: str = Field(min_length=1, description="Unique per store; dedup key")
    channel_thread_id: str | None = None
    references: list[str] = Field(
        default_factory=list,
        description="Channel message ids this message answers, oldest first (e-mail References/In-Reply-To)",
    )
    reply_to: str | None = Field(
        default=None, description="Where an e-mail reply must go when it is not the sender (Reply-To, relay alias)"
    )
    order_ref: str | None = None
    buyer_email: EmailStr | None = None
    buyer_name: str | None = None
    subject: str | None = None
    body: str
    language: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    received_at: datetime
    raw_s3_key: str | None = Field(default=None, description="Where the untouched payload is kept")
    cancellation_requested: bool = Field(
        default=False, description="Channel signal (e.g. a buyer cancellation request)"
    )

    @field_validator("body")
    @classmethod
    def _body_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message body is empty")
        return value


class OrderEvent(Model):
    """What every connector produces for an order change."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    store_id: str = Field(pattern=ID_PATTERN)
    channel: Channel
    event_type: OrderEventType
    event_id: str
    order: Order
    occurred_at: datetime
    raw_s3_key: str | None = None


class IngestEnvelope(Model):
    """One SQS message: everything a single channel delivery produced."""

    tenant_id: str
    store_id: str
    channel: Channel
    delivery_id: str
    raw_s3_key: str
    messages: list[InboundMessage] = Field(default_factory=list)
    order_events: list[OrderEvent] = Field(default_factory=list)

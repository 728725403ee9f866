"""The composition root: every service of the package, built once per warm function from the settings
(``helpdesk.platform.config``) with its AWS adapters. Handlers ask this module for what they serve and
never build adapters themselves; tests clear a factory's cache (``wiring.inbox.cache_clear()``) to build
it again after changing settings or an adapter.

Imports sit inside the factories: a function imports only what it uses, so the webhook's cold start does
not pay for the inbox, the reports or the drafter.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from helpdesk.platform.config import client, secret_bytes, settings

if TYPE_CHECKING:
    from helpdesk.adapters.aws import S3RawStore, SqsEnvelopePublisher, StepFunctionsSlaTimers
    from helpdesk.adapters.dynamodb import DynamoRepository
    from helpdesk.adapters.outbound import DynamoMacros, SqsReplyQueue
    from helpdesk.adapters.ticket_moves import TicketMoves
    from helpdesk.ingest.amazon_notifications import AmazonNotificationIngestor
    from helpdesk.ingest.envelopes import EnvelopeProcessor
    from helpdesk.ingest.inbound_mail import MailIngestor
    from helpdesk.ingest.polling import PollService
    from helpdesk.ingest.webhooks import Delivery, WebhookIngestor
    from helpdesk.languages.detection import LinguaDetector
    from helpdesk.replies.agent_replies import DispatchService, ReplyService
    from helpdesk.replies.automatic_answers import AutomationService
    from helpdesk.replies.macros import MacroLibrary
    from helpdesk.replies.outbox import OutboxSweeper
    from helpdesk.reports.csat import SurveyService
    from helpdesk.reports.queries import ReportService
    from helpdesk.reports.stream import MessageChange, TicketChange, TicketEventProcessor
    from helpdesk.routing.admin import RoutingAdmin
    from helpdesk.routing.aging import AgingService
    from helpdesk.routing.intake import IntakeService
    from helpdesk.stores.connections import StoreSetupService
    from helpdesk.tickets.actions import TicketActions
    from helpdesk.tickets.collaboration import CollaborationService
    from helpdesk.tickets.inbox import InboxService


def reset() -> None:
    """Forget every service built so far (tests and benchmarks that change the settings or the clients;
    ``config.reset()`` forgets the settings and clients themselves)."""
    for value in list(globals().values()):
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


# --- adapters shared by several services ----------------------------------------------------------


@lru_cache(maxsize=1)
def repository() -> DynamoRepository:
    from helpdesk.adapters.dynamodb import DynamoRepository

    return DynamoRepository(client("dynamodb"), settings().table_name)


@lru_cache(maxsize=1)
def sla_timers() -> StepFunctionsSlaTimers:
    from helpdesk.adapters.aws import StepFunctionsSlaTimers

    return StepFunctionsSlaTimers(client("stepfunctions"), settings().sla_state_machine_arn)


@lru_cache(maxsize=1)
def macro_store() -> DynamoMacros:
    from helpdesk.adapters.outbound import DynamoMacros

    return DynamoMacros(client("dynamodb"), settings().table_name)


@lru_cache(maxsize=1)
def reply_queue() -> SqsReplyQueue:
    from helpdesk.adapters.outbound import SqsReplyQueue

    return SqsReplyQueue(client("sqs"), settings().outbound_queue_url)


@lru_cache(maxsize=1)
def ticket_moves() -> TicketMoves:
    """The ticket repository with the merge, split and snooze writes (one per warm function: the aging run
    and the outbox sweep share it)."""
    from helpdesk.adapters.ticket_moves import TicketMoves

    return TicketMoves(client("dynamodb"), settings().table_name)


@lru_cache(maxsize=1)
def raw_store() -> S3RawStore:
    from helpdesk.adapters.aws import S3RawStore

    return S3RawStore(client("s3"), settings().raw_bucket)


@lru_cache(maxsize=1)
def envelope_publisher() -> SqsEnvelopePublisher:
    from helpdesk.adapters.aws import SqsEnvelopePublisher

    return SqsEnvelopePublisher(client("sqs"), settings().inbound_queue_url)


def csat_signing_key() -> bytes:
    """The key that signs rating links (cached by ``config.secret_bytes``; read when a link is made)."""
    return secret_bytes(settings().csat_secret_arn)


# --- ingest ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def webhook_ingestor() -> WebhookIngestor:
    from helpdesk.adapters.aws import SecretsManagerSecrets
    from helpdesk.ingest.webhooks import WebhookIngestor

    return WebhookIngestor(
        repository=repository(),
        secrets=SecretsManagerSecrets(),
        raw_store=raw_store(),
        publisher=envelope_publisher(),
        errors=repository(),
    )


@lru_cache(maxsize=1)
def webhook_ingest_once() -> Callable[..., dict[str, Any]]:
    """``ingest(key=…, delivery=…)``: the webhook ingest made idempotent on the delivery id (Powertools
    Idempotency on its DynamoDB table; the same delivery twice gives the same answer)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    from helpdesk.platform.idempotency import WEBHOOK_IDEMPOTENCY, webhook_key_prefix

    persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table, boto3_client=client("dynamodb"))

    @idempotent_function(
        data_keyword_argument="key",
        persistence_store=persistence,
        config=WEBHOOK_IDEMPOTENCY,
        key_prefix=webhook_key_prefix(),
    )
    def ingest(key: dict[str, str], delivery: Delivery) -> dict[str, Any]:
        return webhook_ingestor().ingest(delivery).as_dict()

    return ingest


@lru_cache(maxsize=1)
def envelope_processor() -> EnvelopeProcessor:
    from helpdesk.adapters.aws import StepFunctionsIntake
    from helpdesk.adapters.channel_orders import ChannelOrders
    from helpdesk.ingest.envelopes import EnvelopeProcessor
    from helpdesk.tickets.threads import TicketService

    cfg = settings()
    intake = (
        StepFunctionsIntake(client("stepfunctions"), cfg.intake_state_machine_arn)
        if cfg.intake_state_machine_arn
        else None
    )
    nudges = None
    if cfg.outbound_queue_url:  # proactive messages on order events (helpdesk.replies.proactive)
        from helpdesk.replies.proactive import NudgeService

        nudges = NudgeService(repository(), macro_store(), reply_queue())
    return EnvelopeProcessor(repository(), TicketService(repository(), sla_timers()), intake, ChannelOrders(), nudges)


@lru_cache(maxsize=1)
def mail_ingestor() -> MailIngestor:
    from helpdesk.adapters.aws import S3Reader
    from helpdesk.ingest.inbound_mail import MailIngestor

    return MailIngestor(
        repository(),
        S3Reader(client("s3")),
        raw_store(),
        envelope_publisher(),
        object_prefix="ses/",
        errors=repository(),
    )


@lru_cache(maxsize=1)
def amazon_notification_ingestor() -> AmazonNotificationIngestor:
    from helpdesk.ingest.amazon_notifications import AmazonNotificationIngestor

    return AmazonNotificationIngestor(repository(), raw_store(), envelope_publisher())


@lru_cache(maxsize=1)
def poll_service() -> PollService:
    from helpdesk.adapters.aws import SecretsManagerSecrets
    from helpdesk.ingest.polling import PollService

    return PollService(
        repository=repository(),
        credentials=SecretsManagerSecrets(),
        raw_store=raw_store(),
        publisher=envelope_publisher(),
    )


# --- routing and SLA ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def language_detector() -> LinguaDetector:
    from helpdesk.languages.detection import LinguaDetector

    return LinguaDetector()


@lru_cache(maxsize=1)
def intake_service() -> IntakeService:
    from helpdesk.adapters import keys
    from helpdesk.adapters.channel_orders import ChannelOrders
    from helpdesk.routing.intake import IntakeService

    return IntakeService(repository(), ChannelOrders(), languages=language_detector(), timer_input=keys.sla_timer_input)


@lru_cache(maxsize=1)
def aging_service() -> AgingService:
    from helpdesk.routing.aging import AgingService

    return AgingService(ticket_moves(), timers=sla_timers())


@lru_cache(maxsize=1)
def outbox_sweeper() -> OutboxSweeper:
    from helpdesk.replies.outbox import OutboxSweeper

    return OutboxSweeper(ticket_moves(), reply_queue())


@lru_cache(maxsize=1)
def routing_admin() -> RoutingAdmin:
    from helpdesk.routing.admin import RoutingAdmin

    return RoutingAdmin(repository())


# --- the agents' inbox ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def inbox() -> InboxService:
    from helpdesk.adapters.inbox_store import PresenceStore, QueueStore, ViewStore
    from helpdesk.adapters.language_services import translation_service
    from helpdesk.tickets.inbox import InboxService

    db, table = client("dynamodb"), settings().table_name
    return InboxService(
        repository(),
        QueueStore(db, table),
        ViewStore(db, table),
        PresenceStore(db, table),
        translations=translation_service(),
    )


@lru_cache(maxsize=1)
def ticket_actions() -> TicketActions:
    from helpdesk.tickets.actions import TicketActions

    return TicketActions(ticket_moves(), sla_timers())


@lru_cache(maxsize=1)
def collaboration() -> CollaborationService:
    from helpdesk.adapters.inbox_store import NoteStore, NotificationStore, PresenceStore
    from helpdesk.tickets.collaboration import CollaborationService

    db, table = client("dynamodb"), settings().table_name
    return CollaborationService(
        repository(), NoteStore(db, table), NotificationStore(db, table), PresenceStore(db, table)
    )


@lru_cache(maxsize=1)
def reply_service() -> ReplyService:
    from helpdesk.adapters.language_services import translation_service
    from helpdesk.replies.agent_replies import ReplyService

    return ReplyService(repository(), repository(), macro_store(), reply_queue(), translations=translation_service())


@lru_cache(maxsize=1)
def automation() -> AutomationService:
    from helpdesk.adapters.language_services import drafter
    from helpdesk.replies.automatic_answers import AutomationService

    return AutomationService(repository(), macro_store(), reply_queue(), drafter=drafter(), snippets=repository())


@lru_cache(maxsize=1)
def macro_library() -> MacroLibrary:
    from helpdesk.replies.macros import MacroLibrary

    return MacroLibrary(macro_store())


@lru_cache(maxsize=1)
def report_service() -> ReportService:
    from helpdesk.adapters.report_store import ReportStore
    from helpdesk.reports.queries import ReportService

    return ReportService(ReportStore(client("dynamodb"), settings().table_name), repository())


# --- after a reply --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def reply_dispatcher() -> DispatchService:
    from helpdesk.adapters.aws import SecretsManagerSecrets, SesMailTransport
    from helpdesk.adapters.outbound import ChannelReplyGateway
    from helpdesk.replies.agent_replies import DispatchService
    from helpdesk.replies.by_email import MailReplySender

    mail = MailReplySender(SesMailTransport(client("ses")), settings().inbound_mail_domain)
    return DispatchService(repository(), repository(), ChannelReplyGateway(SecretsManagerSecrets(), mail), sla_timers())


def _surveys(queue: SqsReplyQueue | None) -> SurveyService:
    """CSAT with its signed links on the public API's address; ``queue`` None sends nothing."""
    from helpdesk.reports.csat import SurveyService

    cfg = settings()
    return SurveyService(repository(), queue, csat_signing_key, cfg.public_api_url or cfg.api_url)


@lru_cache(maxsize=1)
def survey_links() -> SurveyService:
    """The public rating pages' side of CSAT (checks and records ratings; sends nothing)."""
    return _surveys(None)


@lru_cache(maxsize=1)
def ticket_event_processor() -> TicketEventProcessor:
    from helpdesk.adapters.report_store import ReportStore
    from helpdesk.reports.csat import should_request
    from helpdesk.reports.stream import TicketEventProcessor

    report_store = ReportStore(client("dynamodb"), settings().table_name)
    return TicketEventProcessor(repository(), report_store, _surveys(reply_queue()), should_request)


def stream_change(record: dict[str, Any]) -> TicketChange | MessageChange | None:
    """A DynamoDB stream record of the table as the ticket or message change it is (None: another item)."""
    from helpdesk.adapters.table_stream import decode_change

    return decode_change(record)


# --- seller setup ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _setup_dependencies() -> tuple[Any, ...]:
    from helpdesk.adapters.aws import EventBridgePollScheduler, SecretsManagerWriter
    from helpdesk.channels.gateway import ConnectorGateway

    cfg = settings()
    return (
        repository(),
        SecretsManagerWriter(client("secretsmanager")),
        ConnectorGateway(),
        EventBridgePollScheduler(
            client("scheduler"),
            cfg.poller_function_arn,
            cfg.poll_scheduler_role_arn,
            rate_minutes=cfg.poll_rate_minutes,
            aging_arn=cfg.aging_function_arn,
        ),
    )


def store_setup(request_host: str) -> StoreSetupService:
    """Webhook URLs point at the setup API itself: its custom domain when one is configured, else the
    host the request came in on."""
    from helpdesk.stores.connections import StoreSetupService

    cfg = settings()
    base = cfg.public_api_url or f"https://{request_host}"
    return StoreSetupService(*_setup_dependencies(), webhook_base_url=base, inbound_domain=cfg.inbound_mail_domain)

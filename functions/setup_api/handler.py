"""Seller setup API: connect a store, list stores with health, pause/resume, rotate credentials,
disconnect; and the routing settings (rules, SLA policies, agents, teams, aging steps, through
``helpdesk.routing_admin.RoutingAdmin``). Admin agents only; the tenant comes from the verified token.
Routes are thin: parse, call ``helpdesk.setup.StoreSetupService``, return its model. Credentials
never reach a log."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from helpdesk import nudges as nudge_config
from helpdesk.adapters.aws import EventBridgePollScheduler, SecretsManagerWriter
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.outbound import DynamoMacros
from helpdesk.automation import replace_snippets
from helpdesk.channels.gateway import ConnectorGateway
from helpdesk.config import client, settings
from helpdesk.drafting import PolicySnippet
from helpdesk.http_api import install_error_handlers
from helpdesk.identity import AgentDirectory, Identity, identity_from_event
from helpdesk.models import Agent, IngestError, Team
from helpdesk.nudges import Nudge
from helpdesk.observability import logger_for
from helpdesk.routing_admin import AgingSteps, DryRunAnswer, DryRunRequest, RoutingAdmin
from helpdesk.rules import RoutingRule
from helpdesk.setup import ConnectStore, RotateCredentials, StoreSetupService, StoreSummary, StoreVoice
from helpdesk.sla_policy import SlaPolicySpec

logger = logger_for("setup-api")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


@lru_cache(maxsize=1)
def _dependencies() -> tuple[Any, ...]:
    cfg = settings()
    return (
        DynamoRepository(client("dynamodb"), cfg.table_name),
        SecretsManagerWriter(client("secretsmanager")),
        ConnectorGateway(),
        EventBridgePollScheduler(client("scheduler"), cfg.poller_function_arn, cfg.poll_scheduler_role_arn,
                                 rate_minutes=cfg.poll_rate_minutes, aging_arn=cfg.aging_function_arn),
    )


def setup_service() -> StoreSetupService:
    """Webhook URLs point at this very API: its custom domain when one is configured, else the
    host the request came in on."""
    cfg = settings()
    base = cfg.public_api_url or f"https://{app.current_event.request_context.domain_name}"
    return StoreSetupService(*_dependencies(), webhook_base_url=base, inbound_domain=cfg.inbound_mail_domain)


@lru_cache(maxsize=1)
def agent_directory() -> AgentDirectory:
    return AgentDirectory(_dependencies()[0])


def admin() -> Identity:
    """An admin of the tenant, by the token and by the tenant's agent list (active, still an admin)."""
    return agent_directory().confirm(identity_from_event(app.current_event.raw_event)).require_admin()


@lru_cache(maxsize=1)
def routing() -> RoutingAdmin:
    return RoutingAdmin(_dependencies()[0])


@app.get("/rules")
def list_rules() -> list[RoutingRule]:
    """The tenant's routing rules, in evaluation order."""
    return routing().rules(admin().tenant_id)


@app.put("/rules")
def replace_rules(rules: list[dict[str, Any]]) -> list[RoutingRule]:
    """Replace the whole ordered rule list (every invalid rule is reported at once, 422)."""
    return routing().replace_rules(admin().tenant_id, rules)


@app.post("/rules/dry-run")
def dry_run(request: DryRunRequest) -> DryRunAnswer:
    """Which rules would fire for this message, the intent, the SLA policy and due time (nothing is changed)."""
    return routing().dry_run(admin().tenant_id, request)


@app.get("/sla-policies")
def list_policies() -> list[SlaPolicySpec]:
    return routing().policies(admin().tenant_id)


@app.put("/sla-policies")
def replace_policies(policies: list[dict[str, Any]]) -> list[SlaPolicySpec]:
    """Replace the SLA policies (targets, business-hours calendar, intents/channels/stores/priorities)."""
    return routing().replace_policies(admin().tenant_id, policies)


@app.get("/agents")
def list_agents() -> list[Agent]:
    """The tenant's agents: languages, teams, working hours (shift), role, active."""
    return routing().agents(admin().tenant_id)


@app.put("/agents")
def replace_agents(agents: list[dict[str, Any]]) -> list[Agent]:
    """Replace the whole agent list: language codes, teams that exist (``/teams``), the shift as a
    business-hours calendar, unique ids and e-mails (every invalid agent is reported at once, 422)."""
    caller = admin()
    replaced = routing().replace_agents(caller.tenant_id, agents, caller_id=caller.agent_id)
    agent_directory().forget(caller.tenant_id)
    return replaced


@app.get("/teams")
def list_teams() -> list[Team]:
    """The tenant's teams (rules, aging steps and agents name them)."""
    return routing().teams(admin().tenant_id)


@app.put("/teams")
def replace_teams(teams: list[dict[str, Any]]) -> list[Team]:
    """Replace the whole team list; a team still named by an agent or an aging step is not dropped (422)."""
    return routing().replace_teams(admin().tenant_id, teams)


@app.get("/aging-steps")
def get_aging_steps() -> AgingSteps:
    """What the aging run does with stalled assigned tickets: the tenant's steps, or the defaults."""
    return routing().aging_steps(admin().tenant_id)


@app.put("/aging-steps")
def replace_aging_steps(steps: list[dict[str, Any]]) -> AgingSteps:
    """Replace the aging steps (reassign / escalate after minutes without an action by the assignee;
    ``[]`` turns aging off); every invalid step is reported at once (422)."""
    return routing().replace_aging_steps(admin().tenant_id, steps)


def _macros() -> DynamoMacros:
    return DynamoMacros(client("dynamodb"), settings().table_name)


@app.get("/nudges")
def list_nudges() -> list[Nudge]:
    """Proactive messages: the macro sent to the buyer when an order ships, is delivered, cancelled or delayed."""
    return _dependencies()[0].list_nudges(admin().tenant_id)


@app.put("/nudges")
def replace_nudges(nudges: list[dict[str, Any]]) -> list[Nudge]:
    """Replace the proactive messages (each names an event and a macro that exists; 422 lists every problem)."""
    return nudge_config.replace_nudges(_dependencies()[0], _macros(), admin().tenant_id, nudges)


@app.get("/policy-snippets")
def list_policy_snippets() -> list[PolicySnippet]:
    """The seller's policies (returns, shipping, cancellations) the AI drafter may quote, per intent."""
    return _dependencies()[0].list_snippets(admin().tenant_id)


@app.put("/policy-snippets")
def replace_policy_snippets(snippets: list[dict[str, Any]]) -> list[PolicySnippet]:
    """Replace the policy snippets (every invalid one is reported at once, 422)."""
    return replace_snippets(_dependencies()[0], admin().tenant_id, snippets)


@app.get("/stores")
def list_stores() -> list[StoreSummary]:
    """Every store of the tenant with its health (last poll, last message, last error)."""
    return setup_service().list(admin().tenant_id)


@app.post("/stores")
def connect_store(request: ConnectStore) -> Response[StoreSummary]:
    """Connect a store: credentials proven by the channel, kept in Secrets Manager, webhooks subscribed."""
    summary = setup_service().connect(admin().tenant_id, request)
    return Response(status_code=201, content_type="application/json", body=summary)


@app.get("/stores/<store_id>/ingest-errors")
def list_ingest_errors(store_id: str) -> list[IngestError]:
    """Deliveries that could not be read: the reason, and where the untouched payload is kept."""
    return setup_service().ingest_errors(admin().tenant_id, store_id)


@app.post("/stores/<store_id>/pause")
def pause_store(store_id: str) -> StoreSummary:
    """Stop polling the store (webhook deliveries are still kept)."""
    return setup_service().pause(admin().tenant_id, store_id, paused=True)


@app.post("/stores/<store_id>/resume")
def resume_store(store_id: str) -> StoreSummary:
    return setup_service().pause(admin().tenant_id, store_id, paused=False)


@app.put("/stores/<store_id>/voice")
def set_store_voice(store_id: str, voice: StoreVoice) -> StoreSummary:
    """The store's language, greeting and signature per language (its brand voice in macros and e-mails)."""
    return setup_service().set_voice(admin().tenant_id, store_id, voice)


@app.put("/stores/<store_id>/credentials")
def rotate_credentials(store_id: str, request: RotateCredentials) -> StoreSummary:
    """Replace credentials (proven by the channel first); keys not given are kept."""
    return setup_service().rotate(admin().tenant_id, store_id, request)


@app.delete("/stores/<store_id>")
def disconnect_store(store_id: str) -> StoreSummary:
    """Remove the webhooks, delete the secret, refuse further deliveries; the store record stays."""
    return setup_service().disconnect(admin().tenant_id, store_id)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

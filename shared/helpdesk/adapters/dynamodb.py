"""The DynamoDB single-table repository (access patterns: docs/data-model.md).

Concurrency: a ticket's state is written whole with ``version = :expected`` (optimistic lock) in
the same transaction as its new message, the channel-message dedup marker and the thread pointer;
DynamoDB errors become domain errors (DuplicateMessage, Conflict) for the service to act on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from helpdesk.adapters import keys
from helpdesk.core.errors import Conflict, DuplicateMessage, InvalidCursor
from helpdesk.core.models import (
    Agent,
    DeliveryStatus,
    IngestError,
    Message,
    MessageDirection,
    Order,
    OrderStatus,
    QueuePage,
    SlaPolicy,
    Store,
    StoreHealth,
    Team,
    Tenant,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.replies.outbox import CHECK_AFTER, OutboxEntry
from helpdesk.tickets.ports import QueueScope

if TYPE_CHECKING:  # routing config is read by the intake only: webhook functions never import it
    from helpdesk.replies.drafting import PolicySnippet
    from helpdesk.replies.proactive import Nudge
    from helpdesk.routing.aging import AgingStep
    from helpdesk.routing.rules import RoutingRule
    from helpdesk.sla.policies import SlaPolicySpec

_SER = TypeSerializer()
_DESER = TypeDeserializer()
_MAX_LOOKUP = 10
INGEST_ERROR_DAYS = 30  # an ingest error is shown for a month (TTL); the quarantined payload stays in S3
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)  # queue position of an open ticket with no deadline


def to_item(model: BaseModel, **extra: Any) -> dict[str, Any]:
    """A pydantic model as a DynamoDB item (low-level format), ``None`` fields left out."""
    plain = json.loads(model.model_dump_json(exclude_none=True), parse_float=Decimal)
    plain.update(extra)
    return {k: _SER.serialize(v) for k, v in plain.items()}


def from_item(model: type[M], item: dict[str, Any]) -> M:
    plain = {k: _DESER.deserialize(v) for k, v in item.items() if k in model.model_fields}
    return model.model_validate(plain)


BATCH_WRITE = 25  # BatchWriteItem's limit


def batch_write(client: Any, table: str, requests: Sequence[dict[str, Any]]) -> None:
    """Put/Delete requests in BatchWriteItem calls of 25, unprocessed items sent again until done."""
    for start in range(0, len(requests), BATCH_WRITE):
        pending: dict[str, Any] = {table: list(requests[start : start + BATCH_WRITE])}
        while pending:
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    # --- tenant configuration -----------------------------------------------------------------

    def put_tenant(self, tenant: Tenant) -> None:
        self._put(to_item(tenant, PK=keys.tenant_pk(tenant.tenant_id), SK="PROFILE", entity="tenant"))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = self._get(keys.tenant_pk(tenant_id), "PROFILE")
        return from_item(Tenant, item) if item else None

    def put_store(self, store: Store) -> None:
        self._put(to_item(store, PK=keys.tenant_pk(store.tenant_id), SK=keys.store_sk(store.store_id), entity="store"))

    def get_store(self, tenant_id: str, store_id: str) -> Store | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.store_sk(store_id))
        return from_item(Store, item) if item else None

    def create_store(self, store: Store) -> None:
        item = to_item(store, PK=keys.tenant_pk(store.tenant_id), SK=keys.store_sk(store.store_id), entity="store")
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("store id already taken", store_id=store.store_id) from None
            raise

    def record_ingest_error(self, error: IngestError) -> None:
        expires = int(error.at.timestamp()) + INGEST_ERROR_DAYS * 86400
        self._put(
            to_item(
                error,
                PK=keys.tenant_pk(error.tenant_id),
                SK=keys.ingest_error_sk(error.store_id, error.at, error.delivery_id),
                entity="ingest_error",
                expires_at=expires,
            )
        )

    def list_ingest_errors(self, tenant_id: str, store_id: str, limit: int = 50) -> list[IngestError]:
        response = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": _s(keys.tenant_pk(tenant_id)), ":p": _s(f"INGESTERR#{store_id}#")},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [from_item(IngestError, i) for i in response.get("Items", [])]

    def put_channel_route(self, channel: str, account_id: str, tenant_id: str, store_id: str) -> None:
        self._put(
            {
                "PK": _s(keys.channel_route_pk(channel, account_id)),
                "SK": _s("ROUTE"),
                "entity": _s("route"),
                "tenant_id": _s(tenant_id),
                "store_id": _s(store_id),
            }
        )

    def find_store_by_account(self, channel: str, account_id: str) -> Store | None:
        route = self._get(keys.channel_route_pk(channel, account_id), "ROUTE")
        return self.get_store(route["tenant_id"]["S"], route["store_id"]["S"]) if route else None

    def list_health(self, tenant_id: str) -> list[StoreHealth]:
        return [from_item(StoreHealth, i) for i in self._by_prefix(tenant_id, "HEALTH#")]

    def list_stores(self, tenant_id: str) -> list[Store]:
        return [from_item(Store, i) for i in self._by_prefix(tenant_id, "STORE#")]

    def put_sla_policy(self, policy: SlaPolicy) -> None:
        self._put(
            to_item(
                policy,
                PK=keys.tenant_pk(policy.tenant_id),
                SK=keys.sla_policy_sk(policy.policy_id),
                entity="sla_policy",
            )
        )

    def get_sla_policy(self, tenant_id: str, policy_id: str) -> SlaPolicy | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.sla_policy_sk(policy_id))
        return from_item(SlaPolicy, item) if item else None

    # --- routing configuration (rules, SLA policies, agents) ------------------------------------

    def put_agent(self, agent: Agent) -> None:
        self._put(to_item(agent, PK=keys.tenant_pk(agent.tenant_id), SK=keys.agent_sk(agent.agent_id), entity="agent"))

    def list_agents(self, tenant_id: str) -> list[Agent]:
        return [from_item(Agent, i) for i in self._by_prefix(tenant_id, "AGENT#")]

    def replace_agents(self, tenant_id: str, agents: Sequence[Agent]) -> None:
        """The tenant's agents become exactly ``agents`` (written; the ones left out deleted)."""
        self._replace(
            tenant_id,
            keys.AGENT_PREFIX,
            {
                keys.agent_sk(a.agent_id): to_item(
                    a, PK=keys.tenant_pk(tenant_id), SK=keys.agent_sk(a.agent_id), entity="agent"
                )
                for a in agents
            },
        )

    def put_team(self, team: Team) -> None:
        self._put(to_item(team, PK=keys.tenant_pk(team.tenant_id), SK=keys.team_sk(team.team_id), entity="team"))

    def list_teams(self, tenant_id: str) -> list[Team]:
        return [from_item(Team, i) for i in self._by_prefix(tenant_id, keys.TEAM_PREFIX)]

    def replace_teams(self, tenant_id: str, teams: Sequence[Team]) -> None:
        self._replace(
            tenant_id,
            keys.TEAM_PREFIX,
            {
                keys.team_sk(t.team_id): to_item(
                    t, PK=keys.tenant_pk(tenant_id), SK=keys.team_sk(t.team_id), entity="team"
                )
                for t in teams
            },
        )

    def get_aging_steps(self, tenant_id: str) -> list[AgingStep] | None:
        """The tenant's aging steps; None when it never set any (the default steps apply)."""
        from helpdesk.routing.aging import AgingStep

        item = self._get(keys.tenant_pk(tenant_id), keys.AGING_SK)
        if item is None:
            return None
        return [AgingStep.model_validate(step) for step in _DESER.deserialize(item["steps"])]

    def put_aging_steps(self, tenant_id: str, steps: Sequence[AgingStep]) -> None:
        """All the tenant's steps in one item: replacing them is one write, never half done."""
        plain = [json.loads(step.model_dump_json(exclude_none=True), parse_float=Decimal) for step in steps]
        self._put(
            {
                "PK": _s(keys.tenant_pk(tenant_id)),
                "SK": _s(keys.AGING_SK),
                "entity": _s("aging_steps"),
                "steps": _SER.serialize(plain),
            }
        )

    def list_nudges(self, tenant_id: str) -> list[Nudge]:
        from helpdesk.replies.proactive import Nudge

        return [Nudge.model_validate(n) for n in self._config_list(tenant_id, keys.NUDGES_SK)]

    def put_nudges(self, tenant_id: str, nudges: Sequence[Nudge]) -> None:
        self._put_config_list(tenant_id, keys.NUDGES_SK, "nudges", nudges)

    def list_snippets(self, tenant_id: str) -> list[PolicySnippet]:
        from helpdesk.replies.drafting import PolicySnippet

        return [PolicySnippet.model_validate(n) for n in self._config_list(tenant_id, keys.SNIPPETS_SK)]

    def put_snippets(self, tenant_id: str, snippets: Sequence[PolicySnippet]) -> None:
        self._put_config_list(tenant_id, keys.SNIPPETS_SK, "policy_snippets", snippets)

    def _config_list(self, tenant_id: str, sk: str) -> list[Any]:
        item = self._get(keys.tenant_pk(tenant_id), sk)
        return list(_DESER.deserialize(item["items"])) if item else []

    def _put_config_list(self, tenant_id: str, sk: str, entity: str, models: Sequence[BaseModel]) -> None:
        """A whole admin list in one item: replacing it is one write, never half done."""
        plain = [json.loads(m.model_dump_json(exclude_none=True), parse_float=Decimal) for m in models]
        self._put(
            {"PK": _s(keys.tenant_pk(tenant_id)), "SK": _s(sk), "entity": _s(entity), "items": _SER.serialize(plain)}
        )

    def mark_assigned(self, tenant_id: str, agent_id: str, at: datetime) -> None:
        """Round-robin bookkeeping: when the agent last got a ticket (only if the agent exists)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"PK": _s(keys.tenant_pk(tenant_id)), "SK": _s(keys.agent_sk(agent_id))},
                UpdateExpression="SET last_assigned_at = :at",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":at": _s(at.isoformat())},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def count_assigned(self, tenant_id: str, agent_id: str) -> int:
        """Tickets in the agent's queue (a COUNT Query on the agent's queue partition)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.AGENT_QUEUE,
            "Select": "COUNT",
            "KeyConditionExpression": "agent_queue_pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(keys.agent_queue_pk(tenant_id, agent_id))},
        }
        total = 0
        while True:
            answer = self._db.query(**params)
            total += answer.get("Count", 0)
            if "LastEvaluatedKey" not in answer:
                return total
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def put_rule(self, rule: RoutingRule) -> None:
        self._put(to_item(rule, PK=keys.tenant_pk(rule.tenant_id), SK=keys.rule_sk(rule.rule_id), entity="rule"))

    def list_rules(self, tenant_id: str) -> list[RoutingRule]:
        from helpdesk.routing.rules import RoutingRule

        return [from_item(RoutingRule, i) for i in self._by_prefix(tenant_id, "RULE#")]

    def replace_rules(self, tenant_id: str, rules: Sequence[RoutingRule]) -> None:
        """The tenant's rules become exactly ``rules`` (new and changed written, dropped deleted)."""
        self._replace(
            tenant_id,
            "RULE#",
            {
                keys.rule_sk(r.rule_id): to_item(
                    r, PK=keys.tenant_pk(tenant_id), SK=keys.rule_sk(r.rule_id), entity="rule"
                )
                for r in rules
            },
        )

    def replace_policy_specs(self, tenant_id: str, policies: Sequence[SlaPolicySpec]) -> None:
        self._replace(
            tenant_id,
            "SLAPOLICY#",
            {
                keys.policy_spec_sk(p.policy_id): to_item(
                    p, PK=keys.tenant_pk(tenant_id), SK=keys.policy_spec_sk(p.policy_id), entity="sla_policy_spec"
                )
                for p in policies
            },
        )

    def _replace(self, tenant_id: str, prefix: str, items: dict[str, dict[str, Any]]) -> None:
        stale = [i["SK"]["S"] for i in self._by_prefix(tenant_id, prefix) if i["SK"]["S"] not in items]
        requests = [{"PutRequest": {"Item": item}} for item in items.values()]
        requests += [{"DeleteRequest": {"Key": {"PK": _s(keys.tenant_pk(tenant_id)), "SK": _s(sk)}}} for sk in stale]
        batch_write(self._db, self._table, requests)

    def put_policy_spec(self, tenant_id: str, policy: SlaPolicySpec) -> None:
        self._put(
            to_item(
                policy, PK=keys.tenant_pk(tenant_id), SK=keys.policy_spec_sk(policy.policy_id), entity="sla_policy_spec"
            )
        )

    def list_policy_specs(self, tenant_id: str) -> list[SlaPolicySpec]:
        from helpdesk.sla.policies import SlaPolicySpec

        return [from_item(SlaPolicySpec, i) for i in self._by_prefix(tenant_id, "SLAPOLICY#")]

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None:
        """Store the ticket's new state if nobody changed it since ``previous`` was read (Conflict),
        with the timeline events that explain the change, in one transaction."""
        self._write_ticket(
            previous,
            updated,
            lambda: [
                *(self._put_new(self._message_item(event)) for event in events),
                *({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(updated, previous)),
            ],
            "the ticket changed meanwhile; re-read and retry",
        )

    def record_delivery(
        self, previous: Ticket, updated: Ticket, reply: Message, events: Sequence[Message] = ()
    ) -> None:
        """A reply's delivery state (queued → sent / failed) with the ticket's new state and the
        events explaining it, in one transaction; the reply item must exist (it was stored when the
        agent wrote it) and a reply already sent is never set back (Conflict)."""
        self._write_ticket(
            previous,
            updated,
            lambda: [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._message_item(reply),
                        "ConditionExpression": "attribute_exists(PK) AND delivery_status <> :sent",
                        "ExpressionAttributeValues": {":sent": _s("sent")},
                    }
                },
                *(self._put_new(self._message_item(event)) for event in events),
            ],
            "the ticket or the reply changed meanwhile; re-read and retry",
        )

    def claim_delivery(self, reply: Message) -> bool:
        """``queued`` → ``sending`` on the stored reply, only if it is still queued (one dispatch
        sends it, whatever the queue redelivers)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={
                    "PK": _s(keys.ticket_pk(reply.tenant_id, reply.ticket_id)),
                    "SK": _s(keys.message_sk(reply.created_at, reply.message_id)),
                },
                UpdateExpression="SET delivery_status = :sending REMOVE outbox_pk, outbox_sk",
                ConditionExpression="delivery_status = :queued",
                ExpressionAttributeValues={":sending": _s("sending"), ":queued": _s("queued")},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- outbox (queued outbound messages, see helpdesk.replies.outbox) ----------------------------------

    def due_outbound(self, tenant_id: str, now: datetime, limit: int) -> list[OutboxEntry]:
        """Queued outbound messages due a look by ``now``, oldest first (a Query on the sparse
        Outbox index)."""

        def entry(item: dict[str, Any]) -> OutboxEntry:  # the index holds the table's keys: SK names the time stored
            check_at, ticket_id, message_id = item["outbox_sk"]["S"].split("#", 2)
            created_at = item["SK"]["S"].removeprefix(keys.MESSAGE_PREFIX).split("#", 1)[0]
            return OutboxEntry(ticket_id, message_id, keys.from_sortable(created_at), keys.from_sortable(check_at))

        return self._due_on_index(keys.OUTBOX, "outbox", keys.outbox_pk(tenant_id), now, limit, entry)

    def _due_on_index(
        self, index: str, prefix: str, partition: str, now: datetime, limit: int, row: Callable[[dict[str, Any]], R]
    ) -> list[R]:
        """Up to ``limit`` rows of a sparse index whose sort key (``<prefix>_sk``) starts with a
        time, due by ``now`` (inclusive), earliest first, page after page."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{prefix}_pk = :pk AND {prefix}_sk <= :until",
            # '~' sorts after every id character: everything due at ``now`` itself is included.
            "ExpressionAttributeValues": {":pk": _s(partition), ":until": _s(f"{keys.sortable(now)}#~")},
            "Limit": limit,
        }
        found: list[R] = []
        while len(found) < limit:
            answer = self._db.query(**params)
            found.extend(row(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found[:limit]

    def postpone_outbound(self, tenant_id: str, entry: OutboxEntry, check_at: datetime) -> bool:
        """Move a queued message's next look to ``check_at``; False when it is no longer queued."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={
                    "PK": _s(keys.ticket_pk(tenant_id, entry.ticket_id)),
                    "SK": _s(keys.message_sk(entry.created_at, entry.message_id)),
                },
                UpdateExpression="SET outbox_sk = :next",
                ConditionExpression="delivery_status = :queued AND attribute_exists(outbox_pk)",
                ExpressionAttributeValues={
                    ":next": _s(keys.outbox_sk(check_at, entry.ticket_id, entry.message_id)),
                    ":queued": _s("queued"),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _write_ticket(
        self, previous: Ticket, updated: Ticket, more: Callable[[], list[dict[str, Any]]], conflict: str
    ) -> None:
        """The ticket written whole if its version is still the one read (bumped by one), with
        ``more`` items in the same transaction; a cancelled transaction is a Conflict."""
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        updated.version = previous.version + 1
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._ticket_item(updated),
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(previous.version)}},
                }
            },
            *more(),
        ]
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            updated.version = previous.version
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(conflict) from None
            raise

    def _by_prefix(self, tenant_id: str, prefix: str) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": _s(keys.tenant_pk(tenant_id)), ":p": _s(prefix)},
        )

    # --- polling: cursors and store health ---------------------------------------------------

    def get_cursor(self, tenant_id: str, store_id: str, stream: str) -> str | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.cursor_sk(store_id, stream), consistent=True)
        return item["cursor"]["S"] if item else None

    def advance_cursor(self, tenant_id: str, store_id: str, stream: str, previous: str | None, new: str) -> None:
        params: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "PK": _s(keys.tenant_pk(tenant_id)),
                "SK": _s(keys.cursor_sk(store_id, stream)),
                "entity": _s("cursor"),
                "cursor": _s(new),
            },
        }
        if previous is None:
            params["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            params["ConditionExpression"] = "#cursor = :previous"  # CURSOR is a reserved word
            params["ExpressionAttributeNames"] = {"#cursor": "cursor"}
            params["ExpressionAttributeValues"] = {":previous": _s(previous)}
        try:
            self._db.put_item(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("the cursor moved meanwhile (another poller?)", store_id=store_id) from None
            raise

    def set_cursor(self, tenant_id: str, store_id: str, stream: str, value: str) -> None:
        """Unconditional (operators rewinding a store for a replay)."""
        self._put(
            {
                "PK": _s(keys.tenant_pk(tenant_id)),
                "SK": _s(keys.cursor_sk(store_id, stream)),
                "entity": _s("cursor"),
                "cursor": _s(value),
            }
        )

    def get_health(self, tenant_id: str, store_id: str) -> StoreHealth | None:
        item = self._get(keys.tenant_pk(tenant_id), keys.health_sk(store_id))
        return from_item(StoreHealth, item) if item else None

    def put_health(self, health: StoreHealth) -> None:
        self._put(
            to_item(
                health, PK=keys.tenant_pk(health.tenant_id), SK=keys.health_sk(health.store_id), entity="store_health"
            )
        )

    # --- tickets ------------------------------------------------------------------------------

    def find_message(self, tenant_id: str, store_id: str, channel_message_id: str) -> tuple[str, str] | None:
        item = self._get(keys.channel_message_pk(tenant_id, store_id, channel_message_id), "CHMSG")
        return (item["ticket_id"]["S"], item["message_id"]["S"]) if item else None

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        item = self._get(keys.ticket_pk(tenant_id, ticket_id), keys.TICKET_SK, consistent=True)
        return from_item(Ticket, item) if item else None

    def find_ticket_by_thread(self, tenant_id: str, store_id: str, thread_id: str) -> Ticket | None:
        pointer = self._get(keys.thread_pk(tenant_id, store_id, thread_id), "THREAD")
        return self.get_ticket(tenant_id, pointer["ticket_id"]["S"]) if pointer else None

    def find_tickets_by_order(self, tenant_id: str, store_id: str, order_ref: str) -> list[Ticket]:
        return self._tickets_by_lookup(tenant_id, keys.order_lookup_pk(tenant_id, store_id, order_ref))

    def find_tickets_by_email(self, tenant_id: str, email: str) -> list[Ticket]:
        return self._tickets_by_lookup(tenant_id, keys.email_lookup_pk(tenant_id, email))

    def _tickets_by_lookup(self, tenant_id: str, lookup_pk: str) -> list[Ticket]:
        entries = self._lookup(lookup_pk, keys.TICKET_LOOKUP_PREFIX, _MAX_LOOKUP)
        ids = list(dict.fromkeys(i["ticket_id"]["S"] for i in entries))
        found = self._batch_get([{"PK": _s(keys.ticket_pk(tenant_id, t)), "SK": _s(keys.TICKET_SK)} for t in ids])
        return [from_item(Ticket, i) for i in found]

    def _lookup(self, lookup_pk: str, kind: str, limit: int) -> list[dict[str, Any]]:
        """Entries of one Lookup-index partition of one kind (tickets or orders), newest first."""
        response = self._db.query(
            TableName=self._table,
            IndexName=keys.LOOKUP,
            KeyConditionExpression="lookup_pk = :pk AND begins_with(lookup_sk, :kind)",
            ExpressionAttributeValues={":pk": _s(lookup_pk), ":kind": _s(kind)},
            ScanIndexForward=False,
            Limit=limit,
        )
        return response.get("Items", [])

    def _batch_get(self, item_keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items under ``item_keys`` (at most 100), unprocessed keys retried."""
        found: list[dict[str, Any]] = []
        request = {self._table: {"Keys": item_keys}} if item_keys else {}
        while request:
            batch = self._db.batch_get_item(RequestItems=request)
            found.extend(batch["Responses"].get(self._table, []))
            request = batch.get("UnprocessedKeys") or {}
        return found

    def create_ticket(self, ticket: Ticket, message: Message) -> None:
        items: list[dict[str, Any]] = [
            self._put_new(self._dedup_item(message)),
            self._put_new(self._ticket_item(ticket)),
            self._put_new(self._message_item(message)),
        ]
        if ticket.channel_thread_id:
            items.append(
                self._put_new(
                    self._thread_item(ticket.tenant_id, ticket.store_id, ticket.channel_thread_id, ticket.ticket_id)
                )
            )
        items.extend({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(ticket, None))
        self._transact(items)

    def append_message(self, previous: Ticket, updated: Ticket, message: Message) -> None:
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        updated.version = previous.version + 1
        ticket_put = {
            "Put": {
                "TableName": self._table,
                "Item": self._ticket_item(updated),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(previous.version)}},
            }
        }
        items: list[dict[str, Any]] = [
            self._put_new(self._dedup_item(message)),
            ticket_put,
            self._put_new(self._message_item(message)),
        ]
        if message.channel_thread_id and message.channel_thread_id != previous.channel_thread_id:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._thread_item(
                            updated.tenant_id, message.store_id, message.channel_thread_id, updated.ticket_id
                        ),
                        "ConditionExpression": "attribute_not_exists(PK) OR ticket_id = :t",
                        "ExpressionAttributeValues": {":t": _s(updated.ticket_id)},
                    }
                }
            )
        items.extend({"Put": {"TableName": self._table, "Item": link}} for link in self._link_items(updated, previous))
        try:
            self._transact(items)
        except Exception:
            updated.version = previous.version
            raise

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None:
        items = self._query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _s(keys.ticket_pk(tenant_id, ticket_id))},
            ConsistentRead=True,
        )
        ticket = next((i for i in items if i["SK"]["S"] == keys.TICKET_SK), None)
        if ticket is None:
            return None
        messages = [from_item(Message, i) for i in items if i["SK"]["S"].startswith(keys.MESSAGE_PREFIX)]
        return TicketView(ticket=from_item(Ticket, ticket), messages=messages)

    def list_queue(self, tenant_id: str, scope: str, scope_id: str | None, limit: int, cursor: str | None) -> QueuePage:
        index, pk_attr, pk = {
            QueueScope.TENANT: (keys.TENANT_QUEUE, "queue_pk", lambda: keys.tenant_queue_pk(tenant_id)),
            QueueScope.TEAM: (keys.TEAM_QUEUE, "team_queue_pk", lambda: keys.team_queue_pk(tenant_id, scope_id or "")),
            QueueScope.AGENT: (
                keys.AGENT_QUEUE,
                "agent_queue_pk",
                lambda: keys.agent_queue_pk(tenant_id, scope_id or ""),
            ),
        }[scope]
        pk_value = pk()
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{pk_attr} = :pk",
            "ExpressionAttributeValues": {":pk": _s(pk_value)},
            "Limit": limit,
        }
        if cursor:
            params["ExclusiveStartKey"] = _decode_cursor(cursor, pk_attr, pk_value)
        response = self._db.query(**params)
        last = response.get("LastEvaluatedKey")
        return QueuePage(
            tickets=[from_item(Ticket, i) for i in response.get("Items", [])],
            next_cursor=_encode_cursor(last) if last else None,
        )

    # --- orders -------------------------------------------------------------------------------

    def upsert_order(self, order: Order) -> bool:
        """Merge an order event into the stored order. Fields the event does not know (None, an
        empty item list, UNKNOWN status — e.g. a fulfillment event) keep their stored values; an
        event older than the stored order changes nothing."""
        fields = to_item(order, entity="order")
        if order.buyer_email:  # the buyer's orders, newest first (Lookup index)
            fields["lookup_pk"] = _s(keys.email_lookup_pk(order.tenant_id, order.buyer_email))
            fields["lookup_sk"] = _s(keys.order_lookup_sk(order))
        if not order.items:
            fields.pop("items", None)
        if order.status == OrderStatus.UNKNOWN:
            fields.pop("status", None)
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"PK": _s(keys.order_pk(order.tenant_id, order.store_id, order.order_ref)), "SK": _s("ORDER")},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if order.updated_at is not None:
            index = list(fields).index("updated_at")
            params["ConditionExpression"] = f"attribute_not_exists(PK) OR #f{index} <= :v{index}"
        try:
            self._db.update_item(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # a newer version of the order is already stored
            raise
        return True

    def find_orders_by_email(self, tenant_id: str, email: str, limit: int = 20) -> list[Order]:
        """The buyer's orders in every store of the tenant, newest first."""
        entries = self._lookup(keys.email_lookup_pk(tenant_id, email), keys.ORDER_LOOKUP_PREFIX, limit)
        found = self._batch_get([{"PK": i["PK"], "SK": i["SK"]} for i in entries])
        orders = [from_item(Order, i) for i in found]
        return sorted(orders, key=lambda o: keys.order_lookup_sk(o), reverse=True)

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None:
        item = self._get(keys.order_pk(tenant_id, store_id, order_ref), "ORDER")
        return from_item(Order, item) if item else None

    # --- items --------------------------------------------------------------------------------

    def _ticket_item(self, ticket: Ticket) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "PK": keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
            "SK": keys.TICKET_SK,
            "entity": "ticket",
        }
        due = ticket.sla_due_at
        if ticket.status.in_queue:
            # Sparse indexes: a ticket is in the queues only while an agent owes an answer; one
            # reopened by hand with no deadline running still shows, after every dated one.
            sort_key = keys.queue_sk(due or NO_DEADLINE, ticket.ticket_id)
            extra.update(queue_pk=keys.tenant_queue_pk(ticket.tenant_id), queue_sk=sort_key)
            if ticket.team_id:
                extra.update(team_queue_pk=keys.team_queue_pk(ticket.tenant_id, ticket.team_id), team_queue_sk=sort_key)
            if ticket.assignee_id:
                extra.update(
                    agent_queue_pk=keys.agent_queue_pk(ticket.tenant_id, ticket.assignee_id), agent_queue_sk=sort_key
                )
            if ticket.sla_warn_at is not None:  # near-breach filter: a sortable copy of the warning point
                extra["sla_warn_key"] = keys.sortable(ticket.sla_warn_at)
        elif not ticket.status.in_queue:
            # StatusIndex (sparse): tickets outside the queues by status, newest change first.
            extra.update(
                status_pk=keys.status_pk(ticket.tenant_id, ticket.status.value),
                status_sk=keys.status_sk(ticket.updated_at, ticket.ticket_id),
            )
        if ticket.status == TicketStatus.SNOOZED and ticket.snoozed_until is not None:
            # Snoozed index (sparse): wake-ups, soonest first; gone in the write that wakes it.
            extra.update(
                snooze_pk=keys.snoozed_pk(ticket.tenant_id),
                snooze_sk=keys.queue_sk(ticket.snoozed_until, ticket.ticket_id),
            )
        if ticket.sla_breached_at is not None:
            extra["sla_breached"] = True
        return to_item(ticket, **extra)

    @staticmethod
    def _message_item(message: Message, outbox: bool = True) -> dict[str, Any]:
        """A message item; an outbound one still ``queued`` is also in the sparse Outbox index
        (``helpdesk.replies.outbox``), unless ``outbox`` is False (a merge's display copy, never sent)."""
        extra: dict[str, Any] = {}
        if (
            outbox
            and message.direction == MessageDirection.OUTBOUND
            and message.delivery_status == DeliveryStatus.QUEUED
        ):
            extra.update(
                outbox_pk=keys.outbox_pk(message.tenant_id),
                outbox_sk=keys.outbox_sk(message.created_at + CHECK_AFTER, message.ticket_id, message.message_id),
            )
        return to_item(
            message,
            PK=keys.ticket_pk(message.tenant_id, message.ticket_id),
            SK=keys.message_sk(message.created_at, message.message_id),
            entity="message",
            **extra,
        )

    @staticmethod
    def _dedup_item(message: Message) -> dict[str, Any]:
        return {
            "PK": _s(
                keys.channel_message_pk(
                    message.tenant_id, message.store_id, message.channel_message_id or message.message_id
                )
            ),
            "SK": _s("CHMSG"),
            "entity": _s("channel_message"),
            "ticket_id": _s(message.ticket_id),
            "message_id": _s(message.message_id),
        }

    @staticmethod
    def _thread_item(tenant_id: str, store_id: str, thread_id: str, ticket_id: str) -> dict[str, Any]:
        return {
            "PK": _s(keys.thread_pk(tenant_id, store_id, thread_id)),
            "SK": _s("THREAD"),
            "entity": _s("thread"),
            "ticket_id": _s(ticket_id),
        }

    @staticmethod
    def _link_items(ticket: Ticket, previous: Ticket | None) -> list[dict[str, Any]]:
        """Lookup entries (order ref, buyer e-mail) the ticket did not have before."""
        pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
        lookup_sk = f"{keys.TICKET_LOOKUP_PREFIX}{keys.sortable(ticket.created_at)}#{ticket.ticket_id}"
        links = []
        old_refs = set(previous.order_refs) if previous else set()
        for ref in ticket.order_refs:
            if ref not in old_refs:
                links.append(
                    (
                        f"{keys.LINK_PREFIX}ORDER#{ticket.store_id}#{ref}",
                        keys.order_lookup_pk(ticket.tenant_id, ticket.store_id, ref),
                    )
                )
        if ticket.customer_email and (previous is None or previous.customer_email != ticket.customer_email):
            links.append(
                (
                    f"{keys.LINK_PREFIX}EMAIL#{ticket.customer_email}",
                    keys.email_lookup_pk(ticket.tenant_id, ticket.customer_email),
                )
            )
        return [
            {
                "PK": _s(pk),
                "SK": _s(sk),
                "entity": _s("link"),
                "ticket_id": _s(ticket.ticket_id),
                "lookup_pk": _s(lookup_pk),
                "lookup_sk": _s(lookup_sk),
            }
            for sk, lookup_pk in links
        ]

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}

    # --- low level ----------------------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise DuplicateMessage("channel message already stored") from None
            raise Conflict("a concurrent change won; re-read and retry", reasons=reasons) from None

    def _put(self, item: dict[str, Any]) -> None:
        self._db.put_item(TableName=self._table, Item=item)

    def _get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table, Key={"PK": _s(pk), "SK": _s(sk)}, ConsistentRead=consistent)
        return response.get("Item")

    def _query_all(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = self._db.query(TableName=self._table, **params)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _encode_cursor(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, pk_attr: str, pk_value: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        raise InvalidCursor("cursor is not one this API returned") from None
    # A cursor is only valid for the queue it came from: never a way into another partition.
    if not isinstance(key, dict) or key.get(pk_attr) != {"S": pk_value}:
        raise InvalidCursor("cursor belongs to another queue")
    return key

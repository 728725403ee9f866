"""The single table underneath every DynamoDB record class: item (de)serialisation, cursors, and the
low-level reads and writes they share."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from helpdesk.adapters import keys
from helpdesk.core.errors import Conflict, DuplicateMessage, InvalidCursor

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


class TableAccess:
    """The client and table name, and the reads and writes every record class builds on."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

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

    def _by_prefix(self, tenant_id: str, prefix: str) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": _s(keys.tenant_pk(tenant_id)), ":p": _s(prefix)},
        )

    def _batch_get(self, item_keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items under ``item_keys`` (at most 100), unprocessed keys retried."""
        found: list[dict[str, Any]] = []
        request = {self._table: {"Keys": item_keys}} if item_keys else {}
        while request:
            batch = self._db.batch_get_item(RequestItems=request)
            found.extend(batch["Responses"].get(self._table, []))
            request = batch.get("UnprocessedKeys") or {}
        return found

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}

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

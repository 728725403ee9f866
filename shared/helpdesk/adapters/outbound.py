"""AWS side of replies and macros: the macro records, the outbound queue, and the channel gateway
that hands a reply to the ticket's channel (its messaging API, or e-mail through SES)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from helpdesk import channels
from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb import from_item, to_item
from helpdesk.core.errors import ChannelError
from helpdesk.core.models import Macro, Message, Store, Ticket
from helpdesk.replies.by_email import MailReplySender
from helpdesk.stores.ports import StoreCredentials

MACRO_PREFIX = "MACRO#"


class DynamoMacros:
    """Macros under the tenant's partition (``TENANT#<t>`` / ``MACRO#<id>``)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def put_macro(self, macro: Macro) -> None:
        item = to_item(macro, PK=keys.tenant_pk(macro.tenant_id), SK=MACRO_PREFIX + macro.macro_id, entity="macro")
        self._db.put_item(TableName=self._table, Item=item)

    def create_macro(self, macro: Macro) -> bool:
        """Store a new macro; False if the id is taken."""
        item = to_item(macro, PK=keys.tenant_pk(macro.tenant_id), SK=MACRO_PREFIX + macro.macro_id, entity="macro")
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_macro(self, tenant_id: str, macro_id: str) -> Macro | None:
        response = self._db.get_item(
            TableName=self._table, Key={"PK": {"S": keys.tenant_pk(tenant_id)}, "SK": {"S": MACRO_PREFIX + macro_id}}
        )
        item = response.get("Item")
        return from_item(Macro, item) if item else None

    def list_macros(self, tenant_id: str) -> list[Macro]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
            "ExpressionAttributeValues": {":pk": {"S": keys.tenant_pk(tenant_id)}, ":p": {"S": MACRO_PREFIX}},
        }
        macros: list[Macro] = []
        while True:
            response = self._db.query(**params)
            macros.extend(from_item(Macro, i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return macros
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_macro(self, tenant_id: str, macro_id: str) -> bool:
        response = self._db.delete_item(
            TableName=self._table,
            Key={"PK": {"S": keys.tenant_pk(tenant_id)}, "SK": {"S": MACRO_PREFIX + macro_id}},
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))


class SqsReplyQueue:
    """The dispatch function's queue: one message per reply to send."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps({"tenant_id": tenant_id, "ticket_id": ticket_id, "message_id": message_id}),
        )


class ChannelReplyGateway:
    """Sends a reply the way the ticket's channel takes it: the channel's messaging API when its
    connector has one and the buyer's message came with a thread (Mirakl, eBay, TikTok Shop, Etsy),
    else e-mail from the store's address (e-mail stores, the Amazon relay, shops without messaging)."""

    def __init__(self, credentials: StoreCredentials, mail: MailReplySender, client_factory: Any = None) -> None:
        self._credentials = credentials
        self._mail = mail
        self._factory = client_factory  # tests build clients on a mock transport

    def send(self, store: Store, ticket: Ticket, reply: Message, answering: Message | None) -> str:
        connector: Any = channels.api_connector(store.channel.value) if channels.has_api(store.channel.value) else None
        thread = reply.channel_thread_id
        if connector is not None and hasattr(connector, "send_reply") and thread:
            credentials: Mapping[str, str] = self._credentials.credentials(store)
            try:
                if self._factory is not None:
                    http = self._factory(connector, store, credentials)
                else:  # a channel that rotates its refresh token on use (Etsy): keep the new one
                    http = channels.open_client(
                        connector,
                        store,
                        credentials,
                        on_refresh_token=lambda token: self._credentials.update_credentials(
                            store, {"refresh_token": token}
                        ),
                    )
            except KeyError as exc:
                raise ChannelError(
                    f"credentials lack {exc.args[0]!r}", channel=store.channel.value, status=400
                ) from None
            with http:
                return str(connector.send_reply(store, http, thread, reply.body))
        try:
            return self._mail.send_reply(store, ticket, answering, reply.body, language=reply.language).message_id
        except ClientError as exc:  # SES: throttling is worth a retry, anything else is a refusal
            code = exc.response["Error"]["Code"]
            status = 429 if code in ("Throttling", "ThrottlingException", "TooManyRequestsException") else 400
            raise ChannelError(
                f"e-mail not sent: {code}: {exc.response['Error'].get('Message', '')}", channel="email", status=status
            ) from None

"""Small gateways over S3, SQS, Step Functions and Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from helpdesk.adapters import keys
from helpdesk.core.errors import NotFound
from helpdesk.core.models import IngestEnvelope, Store

if TYPE_CHECKING:  # the replay module is for operators: webhook functions never import it
    from helpdesk.ingest.replay import RawObject
from helpdesk.sla.timers import TimerRequest


class S3RawStore:
    """Raw payloads exactly as the channel sent them, for audit and replay."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType=content_type or "application/octet-stream",
            Metadata={k: _ascii(v) for k, v in metadata.items()},
        )


class S3Reader:
    def __init__(self, client: Any) -> None:
        self._s3 = client

    def read(self, bucket: str, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise NotFound("raw object not found", key=key) from None
            raise


class S3RawArchive:
    """Reads kept raw payloads back (replay)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def get(self, key: str) -> RawObject:
        from helpdesk.ingest.replay import RawObject

        answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        return RawObject(
            key=key,
            body=answer["Body"].read(),
            metadata=answer.get("Metadata", {}),
            last_modified=answer["LastModified"],
        )


class SqsDeadLetters:
    """A dead-letter queue and the queue its messages are moved back to."""

    def __init__(self, client: Any, dead_letter_url: str, queue_url: str) -> None:
        self._sqs = client
        self._dlq = dead_letter_url
        self._queue = queue_url

    def receive(self, limit: int) -> list[tuple[str, str, Mapping[str, object]]]:
        answer = self._sqs.receive_message(
            QueueUrl=self._dlq,
            MaxNumberOfMessages=max(1, min(limit, 10)),
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        )
        return [(m["ReceiptHandle"], m["Body"], m.get("MessageAttributes", {})) for m in answer.get("Messages", [])]

    def send_back(self, body: str, attributes: Mapping[str, object]) -> None:
        self._sqs.send_message(QueueUrl=self._queue, MessageBody=body, MessageAttributes=dict(attributes))

    def delete(self, receipt_handle: str) -> None:
        self._sqs.delete_message(QueueUrl=self._dlq, ReceiptHandle=receipt_handle)


class SqsEnvelopePublisher:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    def publish(self, envelope: IngestEnvelope) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=envelope.model_dump_json(exclude_none=True),
            MessageAttributes={
                "tenant_id": {"DataType": "String", "StringValue": envelope.tenant_id},
                "channel": {"DataType": "String", "StringValue": envelope.channel.value},
            },
        )


class StepFunctionsSlaTimers:
    """Starts one Standard execution per ticket deadline version (the name makes it idempotent)."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, request: TimerRequest) -> None:
        try:
            self._sfn.start_execution(
                stateMachineArn=self._arn, name=request.execution_name, input=json.dumps(keys.sla_timer_input(request))
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise


class StepFunctionsIntake:
    """Starts the intake workflow (Express) for a stored buyer message."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        self._sfn.start_execution(
            stateMachineArn=self._arn,
            name=f"intake-{ticket_id}-{message_id}"[:80],
            input=json.dumps({"tenant_id": tenant_id, "ticket_id": ticket_id, "message_id": message_id}),
        )


class SecretsManagerSecrets:
    """Store secrets from Secrets Manager (one JSON secret per store: ``webhook_secret`` and/or the
    channel's API credentials), cached by Powertools' parameters utility for an hour; a signature
    mismatch re-reads the secret once, so a rotation takes effect at once."""

    def __init__(self, max_age_seconds: int = 3600, client: Any = None) -> None:
        self._max_age = max_age_seconds
        self._client = client

    def webhook_secret(self, store: Store, refresh: bool = False) -> str:
        secret = self._secret(store, refresh).get("webhook_secret")
        if not isinstance(secret, str) or not secret:
            raise NotFound("store secret has no webhook_secret", store_id=store.store_id)
        return secret

    def credentials(self, store: Store) -> dict[str, str]:
        return {k: str(v) for k, v in self._secret(store, refresh=False).items()}

    def update_credentials(self, store: Store, changes: Mapping[str, str]) -> None:
        """Merge ``changes`` into the store's JSON secret (read fresh, so nothing else is lost)."""
        import boto3

        if not store.secret_name:
            raise NotFound("store has no secret configured", store_id=store.store_id)
        client = self._client or boto3.session.Session().client("secretsmanager")
        current = json.loads(client.get_secret_value(SecretId=store.secret_name)["SecretString"])
        current.update(changes)
        client.put_secret_value(SecretId=store.secret_name, SecretString=json.dumps(current))
        self._secret(store, refresh=True)  # the cached copy must not hand out the old token

    def _secret(self, store: Store, refresh: bool) -> dict[str, object]:
        from aws_lambda_powertools.utilities import parameters

        if not store.secret_name:
            raise NotFound("store has no secret configured", store_id=store.store_id)
        value = parameters.get_secret(store.secret_name, max_age=self._max_age, force_fetch=refresh)
        try:
            secret = json.loads(value) if isinstance(value, str) else None
        except json.JSONDecodeError:
            secret = None
        if not isinstance(secret, dict):
            raise NotFound("store secret is not a JSON object", store_id=store.store_id)
        return secret


class SecretsManagerWriter:
    """Creates, reads, replaces and deletes a store's JSON secret (seller setup only)."""

    def __init__(self, client: Any, recovery_days: int = 7) -> None:
        self._sm = client
        self._recovery_days = recovery_days

    def create(self, name: str, value: Mapping[str, str]) -> None:
        try:
            self._sm.create_secret(
                Name=name, SecretString=json.dumps(dict(value)), Description="helpdesk store credentials"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceExistsException", "InvalidRequestException"):
                raise
            # A store id reused after a disconnect: the old secret is scheduled for deletion.
            try:
                self._sm.restore_secret(SecretId=name)
            except ClientError:
                pass
            self._sm.put_secret_value(SecretId=name, SecretString=json.dumps(dict(value)))

    def read(self, name: str) -> dict[str, str]:
        value = self._sm.get_secret_value(SecretId=name)["SecretString"]
        parsed = json.loads(value)
        return {k: str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}

    def replace(self, name: str, value: Mapping[str, str]) -> None:
        self._sm.put_secret_value(SecretId=name, SecretString=json.dumps(dict(value)))

    def delete(self, name: str) -> None:
        try:
            self._sm.delete_secret(SecretId=name, RecoveryWindowInDays=self._recovery_days)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise


class SesMailTransport:
    """Outbound e-mail through SES (SendRawEmail keeps our Message-ID and threading headers)."""

    def __init__(self, client: Any) -> None:
        self._ses = client

    def send_raw(self, source: str, destinations: list[str], raw: bytes) -> str:
        answer = self._ses.send_raw_email(Source=source, Destinations=destinations, RawMessage={"Data": raw})
        return answer["MessageId"]


class EventBridgePollScheduler:
    """A tenant's schedules in EventBridge Scheduler: the poller every ``rate_minutes`` and the aging
    rules every 15 minutes, each invoked with ``{"tenant_id": ...}``."""

    AGING_RATE_MINUTES = 15

    def __init__(
        self,
        client: Any,
        poller_arn: str,
        role_arn: str,
        rate_minutes: int = 2,
        group: str = "default",
        aging_arn: str = "",
    ) -> None:
        self._scheduler = client
        self._poller_arn = poller_arn
        self._aging_arn = aging_arn
        self._role_arn = role_arn
        self._rate = rate_minutes
        self._group = group

    @staticmethod
    def schedule_name(tenant_id: str, kind: str = "poll") -> str:
        return f"helpdesk-{kind}-{tenant_id}"[:64]

    def ensure_tenant_schedule(self, tenant_id: str) -> None:
        self._ensure(tenant_id, "poll", self._poller_arn, self._rate)
        if self._aging_arn:
            self._ensure(tenant_id, "aging", self._aging_arn, self.AGING_RATE_MINUTES)

    def _ensure(self, tenant_id: str, kind: str, target_arn: str, minutes: int) -> None:
        try:
            self._scheduler.create_schedule(
                Name=self.schedule_name(tenant_id, kind),
                GroupName=self._group,
                ScheduleExpression=f"rate({minutes} minutes)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": target_arn, "RoleArn": self._role_arn, "Input": json.dumps({"tenant_id": tenant_id})},
                Description=f"helpdesk: {kind} for tenant {tenant_id}",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise


def _ascii(value: str) -> str:
    return value.encode("ascii", "replace").decode()

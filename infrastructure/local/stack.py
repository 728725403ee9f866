"""The local AWS: moto in server mode with the resources of template.yaml, and the functions of
template.yaml run in-process (SQS event sources polled, schedules ticked, Lambda invokes from Step
Functions dispatched to the project's own handlers).

Used by ``make run`` (infrastructure/local/run.py) and by the tests that need real AWS behaviour.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infrastructure.local.template import (
    ROOT,
    Resolver,
    Unresolved,
    function_environment,
    load_template,
    parameter_defaults,
)

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
log = logging.getLogger("helpdesk.local")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LambdaContext:
    """What a Lambda handler receives as its context, for in-process invocations."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    module: str
    handler_name: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    events: dict[str, Any]
    _handler: Callable[..., Any] | None = field(default=None, repr=False)

    def handler(self) -> Callable[..., Any]:
        if self._handler is None:
            self._handler = getattr(importlib.import_module(self.module), self.handler_name)
        return self._handler

    def invoke(self, event: Any) -> Any:
        return self.handler()(event, LambdaContext(self.name, self.memory_mb, self.timeout_s))


class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (or use it as a context manager)."""

    def __init__(self, port: int | None = None, stage: str = "local", poll_event_sources: bool = True) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.stage = stage
        self.poll_event_sources = poll_event_sources
        self.template = load_template()
        # moto has neither Amazon Translate nor Bedrock's Converse: locally nothing is machine-translated
        # (the API says so) and drafts come from the deterministic local drafter.
        self.resolver = Resolver(
            REGION,
            ACCOUNT_ID,
            parameter_defaults(self.template, {"Stage": stage, "Translator": "none", "Drafter": "local"}),
        )
        self.functions: dict[str, LocalFunction] = {}
        self.state_machines: dict[str, str] = {}
        self._server: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved_env: dict[str, str | None] = {}
        self._stream_positions: dict[str, dict[str, str]] = {}  # function → shard → next iterator

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        from moto.server import ThreadedMotoServer

        self._set_env(
            {
                "MOTO_PORT": str(self.port),  # moto's Step Functions engine calls services on this port
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "Helpdesk",
            }
        )
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._configure_moto()
        _serialise_dynamodb_writes()
        _fix_sfn_start_execution_parameters()
        self._install_lambda_dispatch()
        self._create_resources()
        self._set_env(self._merged_function_env())
        from helpdesk.platform import config

        config.reset()
        if self.poll_event_sources:
            self._start_event_sources()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._server is not None:
            self._server.stop()
            self._server = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        from helpdesk.platform import config

        config.reset()

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's, not a secret
        )

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _configure_moto(self) -> None:
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        import httpx

        httpx.post(
            f"{self.endpoint}/moto-api/config", content=body, timeout=10, headers={"Content-Type": "application/json"}
        ).raise_for_status()

    def _install_lambda_dispatch(self) -> None:
        """moto cannot run Lambda code without Docker; its simple backend's ``invoke`` is the one
        place a Step Functions Lambda task or a boto3 invoke can reach our handler in-process."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        stack = self

        def invoke(
            backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
        ) -> Any:
            function = stack.function_named(function_name)
            if function is None:
                raise KeyError(f"no local function {function_name}")
            payload = json.loads(body) if body else {}
            try:
                return json.dumps(function.invoke(payload), default=str).encode()
            except Exception as exc:  # noqa: BLE001 - what Lambda does with an unhandled error
                log.info("%s raised %s: %s", function.logical_id, type(exc).__name__, exc)
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {"errorMessage": str(exc)[:2000], "errorType": type(exc).__name__, "stackTrace": []}
                ).encode()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

    # --- resources ----------------------------------------------------------------------------

    def _physical_name(self, logical_id: str) -> str:
        return f"helpdesk-{self.stage}-{logical_id}"

    def _create_resources(self) -> None:
        pending = dict(self.template["Resources"])
        while pending:
            progressed = False
            for logical_id, resource in list(pending.items()):
                try:
                    self._create(logical_id, resource)
                except Unresolved:
                    continue
                del pending[logical_id]
                progressed = True
            if not progressed:
                raise RuntimeError(f"cannot resolve resources: {sorted(pending)}")

    def _create(self, logical_id: str, resource: dict[str, Any]) -> None:
        kind = resource["Type"]
        props = resource.get("Properties", {})
        name = self._physical_name(logical_id)
        arn_base = f"{REGION}:{ACCOUNT_ID}"
        if kind == "AWS::DynamoDB::Table":
            self._create_table(name, self.resolver.resolve(props))
            self.resolver.refs[logical_id] = name
            self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{arn_base}:table/{name}"
            stream = self.client("dynamodb").describe_table(TableName=name)["Table"].get("LatestStreamArn")
            self.resolver.attributes[(logical_id, "StreamArn")] = (
                stream or f"arn:aws:dynamodb:{arn_base}:table/{name}/stream/0"
            )
        elif kind == "AWS::SecretsManager::Secret":
            secret_name = self.resolver.resolve(props.get("Name")) or name
            arn = self.client("secretsmanager").create_secret(
                Name=secret_name,
                Description=str(self.resolver.resolve(props.get("Description", ""))),
                SecretString=secrets.token_urlsafe(48),
            )["ARN"]
            self.resolver.refs[logical_id] = arn
        elif kind == "AWS::Serverless::HttpApi":
            self.resolver.refs[logical_id] = "local-http-api"  # served by infrastructure/local/http.py
        elif kind == "AWS::S3::Bucket":
            bucket = name.lower()
            self.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            self.resolver.refs[logical_id] = bucket
            self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{bucket}"
        elif kind == "AWS::SQS::Queue":
            resolved = self.resolver.resolve(props)
            attributes = {
                k: str(v)
                for k, v in resolved.items()
                if k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            }
            if "RedrivePolicy" in resolved:
                attributes["RedrivePolicy"] = json.dumps(resolved["RedrivePolicy"])
            url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.resolver.refs[logical_id] = url
            self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{arn_base}:{name}"
            self.resolver.attributes[(logical_id, "QueueName")] = name
        elif kind == "AWS::Serverless::StateMachine":
            definition = (ROOT / props["DefinitionUri"]).read_text()
            for key, value in self.resolver.resolve(props.get("DefinitionSubstitutions", {})).items():
                definition = definition.replace("${" + key + "}", str(value))
            arn = self.client("stepfunctions").create_state_machine(
                name=name,
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
                type=props.get("Type", "STANDARD"),
            )["stateMachineArn"]
            self.state_machines[logical_id] = arn
            self.resolver.refs[logical_id] = arn
            self.resolver.attributes[(logical_id, "Name")] = name
            self.resolver.attributes[(logical_id, "Arn")] = arn
        elif kind == "AWS::Serverless::Function":
            self._register_function(logical_id, name, props)
        elif kind == "AWS::SES::EmailIdentity":
            identity = self.resolver.resolve(props)["EmailIdentity"]
            ses = self.client("ses")
            if "@" in identity:
                ses.verify_email_identity(EmailAddress=identity)
            else:
                ses.verify_domain_identity(Domain=identity)  # moto verifies at once; AWS waits for DNS
            self.resolver.refs[logical_id] = identity
        else:
            # Layer (on sys.path already), HTTP API (served by the local HTTP adapter), Cognito
            # (replaced by locally signed tokens), log groups: nothing to create in moto.
            self.resolver.refs[logical_id] = name
            self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:local:{arn_base}:{name}"

    def _create_table(self, name: str, props: dict[str, Any]) -> None:
        params: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            params["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            params["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        self.client("dynamodb").create_table(**params)

    def _register_function(self, logical_id: str, name: str, props: dict[str, Any]) -> None:
        globals_fn = self.template.get("Globals", {}).get("Function", {})
        env = self.resolver.resolve(function_environment(self.template, props))
        code_dir = props["CodeUri"].strip("/")
        module_file, handler_name = props["Handler"].rsplit(".", 1)
        self.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            module=f"{code_dir.replace('/', '.')}.{module_file}",
            handler_name=handler_name,
            memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            timeout_s=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            environment={k: str(v) for k, v in env.items()},
            events=self.resolver.resolve(props.get("Events", {})),
        )
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"

    def _merged_function_env(self) -> dict[str, str]:
        """All functions share this process: their variables must agree (they name the same resources)."""
        merged: dict[str, str] = {}
        for function in self.functions.values():
            for key, value in function.environment.items():
                if key in merged and merged[key] != value:
                    raise RuntimeError(f"functions disagree on {key}; the local stack runs them in one process")
                merged[key] = value
        return merged

    # --- event sources ------------------------------------------------------------------------

    def _start_event_sources(self) -> None:
        for function in self.functions.values():
            for event in function.events.values():
                if event["Type"] == "SQS":
                    self._spawn(self._poll_sqs, function, event["Properties"])
                elif event["Type"] == "Schedule":
                    self._spawn(self._tick_schedule, function, event["Properties"])
                elif event["Type"] == "DynamoDB":
                    self._spawn(self._poll_stream, function, event["Properties"])

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"local-{args[0].logical_id}")
        thread.start()
        self._threads.append(thread)

    def queue_url_for_arn(self, arn: str) -> str:
        return f"{self.endpoint}/{ACCOUNT_ID}/{arn.rsplit(':', 1)[1]}"

    def drain_sqs_once(self, function: LocalFunction, props: dict[str, Any], wait_seconds: int = 0) -> int:
        """Receive one batch and hand it to the function as Lambda's SQS event source would."""
        sqs = self.client("sqs")
        arn = props["Queue"]
        url = self.queue_url_for_arn(arn)
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(int(props.get("BatchSize", 10)), 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, arn) for m in messages]}
        try:
            result = function.invoke(event) or {}
        except Exception:  # the whole batch returns to the queue, as in Lambda
            log.exception("%s failed on a batch of %d", function.logical_id, len(messages))
            return len(messages)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            )
        return len(messages)

    def drain_stream_once(self, function: LocalFunction, props: dict[str, Any]) -> int:
        """Read the next batch of a DynamoDB stream (every shard, from where this function stopped)
        and hand it to the function as Lambda's stream event source would: a failing batch is
        delivered again (the position moves only once the function succeeded)."""
        streams = self.client("dynamodbstreams")
        positions = self._stream_positions.setdefault(function.logical_id, {})
        arn = props["Stream"]
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", [])
        total = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            iterator = (
                positions.get(shard_id)
                or streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
                    "ShardIterator"
                ]
            )
            response = streams.get_records(ShardIterator=iterator, Limit=min(int(props.get("BatchSize", 100)), 1000))
            records = [{**r, "eventSourceARN": arn} for r in response.get("Records", [])]
            if records:
                try:
                    function.invoke({"Records": records})
                except Exception:  # delivered again, as Lambda retries a stream batch
                    log.exception("%s failed on a stream batch of %d", function.logical_id, len(records))
                    positions[shard_id] = iterator
                    continue
            positions[shard_id] = response.get("NextShardIterator") or iterator
            total += len(records)
        return total

    def skip_stream(self, function: LocalFunction, props: dict[str, Any]) -> None:
        """Start the function's stream position at the end (tests: only what happens next)."""
        streams = self.client("dynamodbstreams")
        arn = props["Stream"]
        positions = self._stream_positions.setdefault(function.logical_id, {})
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", []):
            positions[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]

    def _poll_stream(self, function: LocalFunction, props: dict[str, Any]) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain_stream_once(function, props):
                    self._stop.wait(0.5)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("polling the stream of %s failed", function.logical_id)
                self._stop.wait(1)

    def _poll_sqs(self, function: LocalFunction, props: dict[str, Any]) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain_sqs_once(function, props, wait_seconds=0):
                    self._stop.wait(0.2)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("polling %s failed", function.logical_id)
                self._stop.wait(1)

    def function_named(self, name_or_arn: str) -> LocalFunction | None:
        """The local function a Lambda name, ARN or logical id names."""
        name = name_or_arn.split(":")[-1] if name_or_arn.startswith("arn:") else name_or_arn
        return next((f for f in self.functions.values() if name in (f.name, f.logical_id)), None)

    def run_scheduler_schedules(self, every_seconds: float | None = None) -> threading.Thread:
        """EventBridge Scheduler stand-in: the schedules the product created (the seller setup's
        tenant poll schedules) invoke their target function with their input. ``every_seconds``
        overrides the schedules' own rate (a demo does not wait two minutes)."""
        thread = threading.Thread(
            target=self._scheduler_loop, args=(every_seconds,), daemon=True, name="local-scheduler"
        )
        thread.start()
        self._threads.append(thread)
        return thread

    def run_due_schedules(self) -> int:
        """Invoke every schedule's target once; returns how many ran."""
        scheduler = self.client("scheduler")
        ran = 0
        for summary in scheduler.list_schedules().get("Schedules", []):
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
            if schedule.get("State", "ENABLED") != "ENABLED":
                continue
            target = schedule["Target"]
            function = self.function_named(target["Arn"])
            if function is None:
                continue
            try:
                function.invoke(json.loads(target.get("Input") or "{}"))
                ran += 1
            except Exception:
                log.exception("schedule %s failed", summary["Name"])
        return ran

    def _scheduler_loop(self, every_seconds: float | None) -> None:
        seconds = every_seconds or 120.0
        while not self._stop.wait(seconds):
            self.run_due_schedules()

    def _tick_schedule(self, function: LocalFunction, props: dict[str, Any]) -> None:
        seconds = schedule_seconds(str(props.get("Schedule", "")))
        if seconds is None:
            log.warning("%s: schedule %r is not a rate(); not run locally", function.logical_id, props.get("Schedule"))
            return
        while not self._stop.wait(seconds):
            try:
                function.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
            except Exception:
                log.exception("scheduled %s failed", function.logical_id)


_DYNAMODB_WRITE_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def _serialise_dynamodb_writes() -> None:
    """moto rolls a failed transaction back by restoring a copy of the whole table taken before
    it started, which silently undoes any write another thread made meanwhile (seen here: 8
    racing consumers, one message lost). DynamoDB itself never does that, so the local AWS runs
    DynamoDB writes one at a time. Installed once per process."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_serialised", False):
            continue

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _DYNAMODB_WRITE_LOCK:
                return __original(self, *args, **kwargs)

        locked._serialised = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, locked)
    _roll_back_items_not_tables()


def _fix_sfn_start_execution_parameters() -> None:
    """moto's Step Functions engine hands the ``states:startExecution`` task's parameters to botocore
    in the ASL's spelling (``StateMachineArn``, ``Name``, ``Input``), which botocore's Step Functions
    shapes spell ``stateMachineArn``, ``name``, ``input``: every such task fails with KeyError. AWS
    takes the ASL spelling, so the local stack renames them (moto 5.2.5)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    original = StateTaskServiceSfn._normalise_parameters
    if getattr(original, "_renamed", False):
        return

    def normalise(
        self: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        original(self, parameters, boto_service_name=boto_service_name, service_action_name=service_action_name)
        if service_action_name is None and self._get_boto_service_action() == "start_execution":
            for asl, boto in (
                ("StateMachineArn", "stateMachineArn"),
                ("Name", "name"),
                ("Input", "input"),
                ("TraceHeader", "traceHeader"),
            ):
                if asl in parameters:
                    parameters[boto] = parameters.pop(asl)

    normalise._renamed = True  # type: ignore[attr-defined]
    StateTaskServiceSfn._normalise_parameters = normalise  # type: ignore[method-assign]


class _CopyWithoutTables:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: a Table is not copied."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)


def _roll_back_items_not_tables() -> None:
    """moto backs a transaction up by deep-copying every table it touches: each transaction costs
    O(table size), so a local stack holding a few thousand tickets slows to seconds per message
    (seen: 130 marketplaces' first poll). Here the backup is of the items the transaction names,
    restored if it is cancelled; writes are serialised (above), so nothing else changes meanwhile."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_item_rollback", False):
        return
    models.copy = _CopyWithoutTables()  # type: ignore[assignment]
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _DYNAMODB_WRITE_LOCK:
            backup = []
            for entry in transact_items:
                _, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key") or {
                    name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
                }
                hash_key, range_key = _key_values(table, key)
                if hash_key is None or (table.has_range_key and range_key is None):
                    continue  # moto rejects the transaction itself
                current = table.get_item(hash_key, range_key)
                backup.append((table, hash_key, range_key, copy.deepcopy(current)))
            try:
                return original(self, transact_items)
            except Exception:
                for table, hash_key, range_key, item in reversed(backup):
                    if table.has_range_key:
                        if item is None:
                            table.items[hash_key].pop(range_key, None)
                        else:
                            table.items[hash_key][range_key] = item
                    elif item is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = item
                raise

    transact_write_items._item_rollback = True  # type: ignore[attr-defined]
    transact_write_items._serialised = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    def value(name: str | None) -> Any:
        raw = key.get(name) if name else None
        return DynamoType(raw) if isinstance(raw, dict) else None

    return value(table.hash_key_attr), value(table.range_key_attr)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            k: {
                "stringValue": v.get("StringValue"),
                "dataType": v.get("DataType"),
                "stringListValues": [],
                "binaryListValues": [],
            }
            for k, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def schedule_seconds(expression: str) -> int | None:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    return amount * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]

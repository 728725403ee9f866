"""Foundation benchmark: cold-start imports, warm webhook CPU, AWS requests and list-price cost per ticket.

``make bench`` (``PYTHONPATH=shared:. .venv/bin/python -m bench.run``) prints the figures and writes the same
report to bench/results/foundation.md. Three parts:

(a) import time of each function's handler module, each in a fresh interpreter, next to a bare ``import boto3``
    and a bare interpreter (median of IMPORT_RUNS), plus the webhook's import + first request;
(b) warm CPU per webhook request, four ways: with AWS stubbed at botocore's HTTP layer in a fresh process (the
    figure to hold against the target), with the boto3 clients replaced by fakes (product code only), and
    in-process against the local stack (moto), both as process CPU and as the invoking thread's CPU;
(c) every AWS request of TICKETS tickets driven end to end on the local stack (webhook → ingest queue →
    ingest consumer → ticket + SLA timer → intake workflow (Express; Enrich and Decide Lambda tasks; the SLA
    timer re-armed)), counted with botocore event hooks, turned into DynamoDB request units, SQS/S3/Secrets
    Manager requests, Step Functions Standard transitions and Express requests and duration, and priced at
    list prices.

The top level of this module imports the standard library only: the workers of (a) and (b) import it in
processes whose import cost is being measured.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "foundation.md"
ASL_FILE = ROOT / "infrastructure" / "statemachines" / "sla_timer.asl.json"
INTAKE_ASL_FILE = ROOT / "infrastructure" / "statemachines" / "intake.asl.json"

# --- sizes of the runs (the whole benchmark takes about a minute on 2 cores) -------------------------
IMPORT_RUNS = 5  # fresh interpreters per import target (after one discarded warm-up run)
WARM_WARMUP, WARM_REQUESTS = 20, 200  # webhook requests in-process against the local stack
STUB_WARMUP, STUB_REQUESTS = 50, 500  # webhook requests per stubbed mode, in a fresh process
TICKETS = 50  # "batched" run: every webhook first, then the ingest queue drained in batches of BatchSize
ONE_BY_ONE_TICKETS = 10  # "one-by-one" run: webhook, batch of 1, secret cache cold (a quiet shop)
SLA_BREACH_SHARE = 0.03  # assumed mix: 97 % of tickets answered before the first-response deadline

# --- targets ---------------------------------------------------------------------------------------
TARGET_IMPORT_RATIO = 1.5  # webhook handler import ≤ 1.5 × bare `import boto3`
TARGET_WARM_CPU_MS = 5.0  # ≤ 5 ms warm CPU per webhook
TARGET_COST_PER_1000 = 0.20  # ≤ $0.20 per 1,000 tickets including SLA timers

# --- list prices: us-east-1, on demand, free tiers ignored (the figures given for this benchmark; check the
# pages before relying on them) --------------------------------------------------------------------------
# https://aws.amazon.com/lambda/pricing/ : Arm, first 7.5 bn GB-s a month; and per request
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1_000_000
# https://aws.amazon.com/dynamodb/pricing/on-demand/ : per write / read request unit; storage per GB-month
DYNAMODB_WRU = 0.625 / 1_000_000
DYNAMODB_RRU = 0.125 / 1_000_000
DYNAMODB_STORAGE_GB_MONTH = 0.25
# https://aws.amazon.com/step-functions/pricing/ : Standard workflows, per state transition
SFN_STANDARD_TRANSITION = 0.025 / 1000
# Same page, Express Workflows (the intake): $1.00 per million requests (executions started) and duration at
# $0.06000 per GB-hour for the first 1,000 GB-hours a month (= $0.00001667 per GB-second; then $0.03000 and
# $0.01642), duration rounded up to 100 ms, memory billed in 64 MB chunks, estimated as 50 MB + the definition
# + the execution data (the page's pricing examples 3 and 4).
SFN_EXPRESS_REQUEST = 1.00 / 1_000_000
SFN_EXPRESS_GB_SECOND = 0.06 / 3600
SFN_EXPRESS_BILLING_MS = 100
SFN_EXPRESS_MEMORY_CHUNK_MB = 64
SFN_EXPRESS_BASE_MB = 50
# https://aws.amazon.com/sqs/pricing/ : standard queue, per request; every 64 KB chunk of a payload is a request
SQS_REQUEST = 0.40 / 1_000_000
SQS_CHUNK_BYTES = 64 * 1024
# https://aws.amazon.com/s3/pricing/ : S3 Standard PUT/COPY/POST/LIST and GET/SELECT requests; storage
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
S3_STORAGE_GB_MONTH = 0.023
# https://aws.amazon.com/api-gateway/pricing/ : HTTP API, first 300 M requests a month (per 512 KB chunk)
HTTP_API_REQUEST = 1.00 / 1_000_000
# https://aws.amazon.com/secrets-manager/pricing/ : API calls (each secret is also $0.40 a month, fixed)
SECRETS_API_CALL = 0.05 / 10_000
# Outside the brief's list, reported separately: https://aws.amazon.com/cloudwatch/pricing/ (Standard log
# ingestion) and https://aws.amazon.com/xray/pricing/ (traces recorded).
CLOUDWATCH_LOGS_INGEST_GB = 0.50
XRAY_TRACE_RECORDED = 5.00 / 1_000_000
LAMBDA_PLATFORM_LOG_BYTES = 400  # assumed size of Lambda's own START/END/REPORT lines per invocation

# --- for the modelled Lambda durations (a sensitivity, not the headline) ----------------------------------
# Lambda allocates CPU in proportion to memory: 1,769 MB = 1 vCPU (Lambda developer guide, "memory").
LAMBDA_MB_PER_VCPU = 1769
# Assumed client-observed latency of one call inside a region, ms. Not measured here (moto answers locally).
ASSUMED_AWS_LATENCY_MS = {
    "dynamodb": 6.0,
    "dynamodb.TransactWriteItems": 15.0,
    "s3": 30.0,
    "sqs": 10.0,
    "stepfunctions": 30.0,
    "secretsmanager": 20.0,
}
# Assumed overhead of one Step Functions Lambda task around the function's own duration (invoke, payload), ms.
ASSUMED_TASK_OVERHEAD_MS = 20.0

# --- DynamoDB capacity rules (developer guide, "Item sizes and formats", "Read/write capacity mode") -----
WRITE_UNIT_BYTES = 1024  # 1 WRU per 1 KB written; transactional writes cost 2
READ_UNIT_BYTES = 4096  # 1 RRU per 4 KB strongly consistent; eventually consistent ½; transactional 2
ITEM_STORAGE_OVERHEAD = 100  # bytes per item (and per GSI entry) in storage billing
GB = 1024**3

SERVICE_NAMES = {
    "dynamodb": "DynamoDB",
    "s3": "S3",
    "sqs": "SQS",
    "stepfunctions": "Step Functions",
    "secretsmanager": "Secrets Manager",
}
PHASE_NAMES = {  # in the order a ticket meets them
    "webhook": "WebhookFunction",
    "esm": "SQS event source (Lambda's poller)",
    "ingest": "IngestConsumerFunction",
    "intake": "IntakeFunction (the intake workflow's Enrich and Decide tasks)",
    "events": "TicketEventsFunction (the table's stream → report counters)",
}
WEBHOOK_ROUTE = "/webhooks/{tenant_id}/{channel}/{store_id}"


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ================================================================================================
# Small helpers
# ================================================================================================


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def usd(value: float) -> str:
    return f"${value:.5f}"


class Report:
    """Markdown lines, printed as they come and written to a file at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def heading(self, text: str, level: int = 2) -> None:
        self.emit()
        self.emit(f"{'#' * level} {text}")
        self.emit()

    def table(self, headers: list[str], rows: list[list[Any]], align: str = "") -> None:
        align = (align or "l" + "r" * (len(headers) - 1)).ljust(len(headers), "r")
        cells = [[str(c) for c in row] for row in rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

        def line(values: list[str]) -> str:
            padded = [v.ljust(w) if a == "l" else v.rjust(w) for v, w, a in zip(values, widths, align, strict=True)]
            return "| " + " | ".join(padded) + " |"

        self.emit(line(headers))
        self.emit(
            "|"
            + "|".join("-" * (w + 1) + ":" if a == "r" else "-" * (w + 2) for w, a in zip(widths, align, strict=True))
            + "|"
        )
        for row in cells:
            self.emit(line(row))
        self.emit()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines).strip() + "\n", encoding="utf-8")


class BenchContext:
    """The Lambda context a handler receives (what Powertools reads from it)."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int = 15) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = f"bench-{time.perf_counter_ns()}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_env() -> dict[str, str]:
    """The environment a deployed function sees (dummy resource names), without the local stack's endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "MOTO_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(["shared", "."]),
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        TABLE_NAME="helpdesk-bench-HelpdeskTable",
        RAW_BUCKET="helpdesk-bench-rawpayloadbucket",
        INBOUND_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/helpdesk-bench-InboundQueue",
        IDEMPOTENCY_TABLE="helpdesk-bench-IdempotencyTable",
        SLA_STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:helpdesk-bench-SlaTimer",
        POWERTOOLS_METRICS_NAMESPACE="Helpdesk",
        POWERTOOLS_LOG_LEVEL="INFO",
    )
    return env


def run_python(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run the project's interpreter in a fresh process; (wall ms from spawn to exit, the process)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall_ms = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)[:120]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall_ms, proc


@contextlib.contextmanager
def captured_stdout(sink: dict[str, Any]) -> Iterator[None]:
    """Send file descriptor 1 (Powertools logs and EMF metrics) to a temporary file; count its bytes."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            size = tmp.seek(0, os.SEEK_END)
            sink["bytes"] = sink.get("bytes", 0) + size
            tmp.seek(max(0, size - 3000))
            sink["tail"] = tmp.read().decode("utf-8", "replace")


# ================================================================================================
# Webhook events and canned AWS answers (shared by the workers and the local-stack runs)
# ================================================================================================


def webhook_events(first_order: int, count: int) -> list[dict[str, Any]]:
    """Signed WooCommerce order.created deliveries as API Gateway HTTP API (v2) events, one order each."""
    from infrastructure.local import demo
    from infrastructure.local.http import build_event

    params = {"tenant_id": demo.TENANT_ID, "channel": "woocommerce", "store_id": demo.STORE_ID}
    path = WEBHOOK_ROUTE.format(**params)
    now = datetime.now(UTC)
    events = []
    for i in range(count):
        order_id = first_order + i
        body = json.dumps(demo.order_payload(order_id, demo.BUYER_NOTES[i % len(demo.BUYER_NOTES)], now)).encode()
        signed = demo.signed_headers(body, demo.WEBHOOK_SECRET, "order.created", delivery_id=order_id)
        headers = {k.lower(): v for k, v in signed.items()}  # HTTP API hands headers over in lower case
        headers.update({"host": "api.example.com", "content-length": str(len(body))})
        events.append(build_event("POST", path, "", headers, body, WEBHOOK_ROUTE, params, None))
    return events


def canned_http_responses() -> dict[str, list[Any]]:
    """What AWS answers to each call of a webhook request, as botocore's HTTP layer would receive it:
    ``{"<service-id>.<Operation>": [status, headers, body]}``. The store item is the demo store exactly as
    the repository writes it (demo.seed run against a recording client)."""
    from helpdesk.adapters.dynamodb import DynamoRepository
    from infrastructure.local import demo

    class Recorder:
        def __init__(self) -> None:
            self.items: list[dict[str, Any]] = []
            self.secret: dict[str, Any] = {}

        def put_item(self, **kwargs: Any) -> dict[str, Any]:
            self.items.append(kwargs["Item"])
            return {}

        def create_secret(self, **kwargs: Any) -> dict[str, Any]:
            self.secret = kwargs
            return {}

    recorder = Recorder()
    demo.seed(DynamoRepository(recorder, "bench"), recorder)
    store_item = next(i for i in recorder.items if i["SK"]["S"].startswith("STORE#"))
    secret = {
        "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{recorder.secret['Name']}-AbCdEf",
        "Name": recorder.secret["Name"],
        "SecretString": recorder.secret["SecretString"],
        "VersionId": "00000000-0000-0000-0000-000000000001",
        "VersionStages": ["AWSCURRENT"],
    }
    return {
        "dynamodb.GetItem": [200, {}, json.dumps({"Item": store_item})],
        "dynamodb.PutItem": [200, {}, "{}"],
        "dynamodb.UpdateItem": [200, {}, "{}"],
        "s3.PutObject": [200, {"ETag": '"0123456789abcdef0123456789abcdef"'}, ""],
        "sqs.SendMessage": [200, {}, json.dumps({"MessageId": "00000000-0000-0000-0000-000000000002"})],
        "secrets-manager.GetSecretValue": [200, {}, json.dumps(secret)],
    }


def install_http_stub(canned: dict[str, list[Any]]) -> Counter[str]:
    """Every botocore client created from now on gets its HTTP answer from ``canned`` instead of the network
    ('before-send' hook): request serialisation, SigV4 signing and response parsing still run."""
    import botocore.session
    from botocore.awsrequest import AWSResponse

    calls: Counter[str] = Counter()

    class Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self._body

    def send(request: Any, event_name: str = "", **_: Any) -> Any:
        key = event_name.split(".", 1)[1]
        if key not in canned:
            raise RuntimeError(f"benchmark stub has no answer for {key}")
        calls[key] += 1
        status, headers, body = canned[key]
        return AWSResponse(request.url, status, headers, Raw(body.encode()))

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-send", send)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    return calls


class FakeAws:
    """Fake boto3 clients answering the canned responses as parsed dicts: no botocore on the request path."""

    def __init__(self, canned: dict[str, list[Any]]) -> None:
        from botocore import xform_name

        self.calls: Counter[str] = Counter()
        self.answers: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for key, (_, headers, body) in canned.items():
            service, operation = key.split(".", 1)
            self.answers[service.replace("-", "")][xform_name(operation)] = json.loads(body) if body else headers

    def client(self, service: str) -> Any:
        fake = self

        class Client:
            def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
                if name.startswith("_") or name not in fake.answers[service]:
                    raise AttributeError(name)

                def call(**_: Any) -> dict[str, Any]:
                    fake.calls[f"{service}.{name}"] += 1
                    return fake.answers[service][name]

                return call

        return Client()


def measure_requests(
    invoke: Callable[[dict[str, Any]], Any], events: list[dict[str, Any]], warmup: int
) -> dict[str, list[float]]:
    """Per request: process CPU, this thread's CPU and wall time, in ms (after ``warmup`` unmeasured ones)."""
    for event in events[:warmup]:
        check_accepted(invoke(event))
    cpu, thread, wall = [], [], []
    for event in events[warmup:]:
        c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
        result = invoke(event)
        w1, t1, c1 = time.perf_counter(), time.thread_time(), time.process_time()
        check_accepted(result)
        cpu.append((c1 - c0) * 1000)
        thread.append((t1 - t0) * 1000)
        wall.append((w1 - w0) * 1000)
    return {"cpu_ms": cpu, "thread_ms": thread, "wall_ms": wall}


def check_accepted(result: Any) -> None:
    if not isinstance(result, dict) or result.get("statusCode") not in (200, 202):
        raise RuntimeError(f"webhook did not accept the delivery: {result!r}")


# ================================================================================================
# Workers (fresh processes)
# ================================================================================================

_COLD_WORKER = """\
import json, sys, time
spec = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
import functions.webhook.handler as handler
t1 = time.perf_counter()
from bench.run import BenchContext, install_http_stub
install_http_stub(spec["canned"])
t2 = time.perf_counter()
first = handler.lambda_handler(spec["events"][0], BenchContext("webhook", 256))
t3 = time.perf_counter()
second = handler.lambda_handler(spec["events"][1], BenchContext("webhook", 256))
t4 = time.perf_counter()
json.dump({"import_ms": (t1 - t0) * 1000, "first_ms": (t3 - t2) * 1000, "second_ms": (t4 - t3) * 1000,
           "status": [first["statusCode"], second["statusCode"]]}, open(spec["out"], "w"))
"""

_IMPORT_SNIPPET = """\
import json, sys, time
t0 = time.perf_counter()
{statement}
t1 = time.perf_counter()
print("BENCH_IMPORT_MS=" + repr((t1 - t0) * 1000))
"""


def stub_worker(spec_path: Path) -> None:
    """(b) in a fresh process, three ways: AWS answered by a canned HTTP server in another process; AWS stubbed
    at botocore's HTTP layer; boto3 clients replaced by fakes."""
    spec = json.loads(spec_path.read_text())
    import functions.webhook.handler as handler
    from helpdesk.platform import config, wiring

    per_mode = STUB_WARMUP + STUB_REQUESTS
    events = webhook_events(100_000, 3 * per_mode)
    results: dict[str, Any] = {}

    def invoke(event: dict[str, Any]) -> Any:
        return handler.lambda_handler(event, BenchContext("webhook", 256))

    def fresh_clients() -> None:
        from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

        config.reset()
        wiring.reset()
        DEFAULT_PROVIDERS.clear()

    server = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--canned-server", str(spec_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int((server.stdout.readline() if server.stdout else "").strip())
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        fresh_clients()
        results["canned_server"] = measure_requests(invoke, events[:per_mode], STUB_WARMUP)
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.terminate()
        server.wait(timeout=10)

    fresh_clients()
    calls = install_http_stub(spec["canned"])
    results["http_stub"] = measure_requests(invoke, events[per_mode : 2 * per_mode], STUB_WARMUP)
    results["calls_per_request"] = {k: v / per_mode for k, v in calls.items()}

    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    fresh_clients()
    fakes = FakeAws(spec["canned"])
    config.client = fakes.client  # type: ignore[assignment]
    wiring.client = fakes.client  # type: ignore[attr-defined]
    DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=fakes.client("secretsmanager"))
    results["fake_clients"] = measure_requests(invoke, events[2 * per_mode :], STUB_WARMUP)
    Path(spec["out"]).write_text(json.dumps(results))


def canned_server(spec_path: Path) -> None:
    """A keep-alive HTTP server answering each AWS call of a webhook request with its canned response (run in
    its own process, so the function's process does its real client-side HTTP work and nothing else)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    canned = json.loads(spec_path.read_text())["canned"]
    prefixes = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "secretsmanager": "secrets-manager"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, *_: Any) -> None:
            return

        def read_body(self) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                return
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                self.rfile.read(size + 2)

        def answer(self) -> None:
            self.read_body()
            target = self.headers.get("X-Amz-Target", "")
            if target:
                prefix, operation = target.split(".", 1)
                key = f"{prefixes.get(prefix, prefix)}.{operation}"
            else:
                key = "s3.PutObject" if self.command == "PUT" else f"s3.{self.command}"
            status, headers, body = canned.get(key, [400, {}, json.dumps({"__type": "Unknown", "message": key})])
            data = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PUT = do_GET = answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# ================================================================================================
# (a) import times
# ================================================================================================

IMPORT_TARGETS: list[tuple[str, str | None]] = [
    ("bare interpreter (`python -c pass`)", None),
    ("`import boto3`", "boto3"),
    ("webhook handler", "functions.webhook.handler"),
    ("ingest_consumer handler", "functions.ingest_consumer.handler"),
    ("agent_api handler", "functions.agent_api.handler"),
]
COLD_LABEL = "webhook import + first request (AWS stubbed)"


def measure_imports(env: dict[str, str], tmpdir: Path) -> dict[str, Any]:
    spec_path = tmpdir / "cold.json"
    out_path = tmpdir / "cold-out.json"
    spec_path.write_text(
        json.dumps({"canned": canned_http_responses(), "events": webhook_events(90_000, 2), "out": str(out_path)})
    )
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for round_no in range(IMPORT_RUNS + 1):  # round 0 warms the page cache and writes .pyc files
        for label, module in IMPORT_TARGETS:
            statement = f"import {module}" if module else "pass"
            wall, proc = run_python(["-c", _IMPORT_SNIPPET.format(statement=statement)], env)
            marker = next(line for line in proc.stdout.splitlines() if line.startswith("BENCH_IMPORT_MS="))
            if round_no:
                samples[label]["import_ms"].append(float(marker.split("=", 1)[1]))
                samples[label]["wall_ms"].append(wall)
        wall, _ = run_python(["-c", _COLD_WORKER, str(spec_path)], env)
        cold = json.loads(out_path.read_text())
        if cold["status"] != [202, 202]:
            raise RuntimeError(f"stubbed cold webhook answered {cold['status']}")
        if round_no:
            samples[COLD_LABEL]["import_ms"].append(cold["import_ms"] + cold["first_ms"])
            samples[COLD_LABEL]["first_ms"].append(cold["first_ms"])
            samples[COLD_LABEL]["second_ms"].append(cold["second_ms"])
            samples[COLD_LABEL]["wall_ms"].append(wall)
    _, proc = run_python(["-X", "importtime", "-c", "import functions.webhook.handler"], env)
    return {"samples": samples, "importtime": importtime_self(proc.stderr)}


def importtime_self(stderr: str) -> dict[str, float]:
    """``-X importtime``: self time of each module, ms."""
    modules: dict[str, float] = {}
    for line in stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _, name = line.removeprefix("import time:").split("|", 2)
            modules[name.strip()] = int(self_us) / 1000
    return modules


# ================================================================================================
# (c) counting AWS requests: botocore event hooks on every client, DynamoDB size and capacity rules
# ================================================================================================

PHASE: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_phase", default=None)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    token = PHASE.set(name)
    try:
        yield
    finally:
        PHASE.reset(token)


def number_size(text: str) -> int:
    digits = list(Decimal(text).as_tuple().digits)
    while digits and digits[0] == 0:
        digits.pop(0)
    while digits and digits[-1] == 0:
        digits.pop()
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item by DynamoDB's rules: attribute name lengths plus value sizes."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * (1.0 if consistent else 0.5)


_SK_LABELS = (
    ("LINK#ORDER#", "order-ref link"),
    ("LINK#EMAIL#", "e-mail link"),
    ("STORE#", "store"),
    ("SLA#", "SLA policy"),
    ("MSG#", "message"),
    ("CURSOR#", "cursor"),
    ("PROFILE", "tenant"),
    ("TICKET", "ticket"),
    ("CHMSG", "channel-message marker"),
    ("THREAD", "thread pointer"),
    ("ORDER", "order"),
)


@dataclass(frozen=True)
class Gsi:
    name: str
    hash_key: str
    range_key: str | None
    projection: str
    non_key: tuple[str, ...]


@dataclass
class Written:
    label: str
    how: str
    size: int
    wru: float
    gsi_wru: float
    gsi_bytes: int


@dataclass
class Call:
    run: str
    phase: str
    service: str
    operation: str
    label: str = ""
    wru: float = 0.0
    gsi_wru: float = 0.0
    rru: float = 0.0
    requests: int = 1  # billable requests (SQS: 64 KB chunks)
    latency_ms: float = 0.0  # client-side wall time of the call, local stack
    messages: int = 0  # SQS ReceiveMessage: messages received
    payload_bytes: int = 0
    written: list[Written] = field(default_factory=list)
    pending: list[tuple[str, dict[str, Any], float, str]] = field(default_factory=list)


class AwsCallRecorder:
    """Counts each AWS call made in a ``phase`` (main thread only: moto's server threads have no phase)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.run: str | None = None
        self.table_kinds: dict[str, str] = {}
        self.key_attrs: dict[str, tuple[str, ...]] = {}
        self.gsis: dict[str, list[Gsi]] = {}
        self.ticket_item: dict[str, Any] | None = None

    def configure_tables(self, template: dict[str, Any], physical: dict[str, str]) -> None:
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::DynamoDB::Table":
                continue
            props, name = resource["Properties"], physical[logical]
            self.table_kinds[name] = logical
            self.key_attrs[name] = tuple(k["AttributeName"] for k in props["KeySchema"])
            self.gsis[name] = [
                Gsi(
                    g["IndexName"],
                    next(k["AttributeName"] for k in g["KeySchema"] if k["KeyType"] == "HASH"),
                    next((k["AttributeName"] for k in g["KeySchema"] if k["KeyType"] == "RANGE"), None),
                    g["Projection"]["ProjectionType"],
                    tuple(g["Projection"].get("NonKeyAttributes", ())),
                )
                for g in props.get("GlobalSecondaryIndexes", [])
            ]

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("provide-client-params", recorder._before)
            client.meta.events.register("after-call", recorder._after)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    # --- hooks --------------------------------------------------------------------------------------

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if PHASE.get() is not None:
            context["bench_params"] = params
            context["bench_started"] = time.perf_counter()
            body = params.get("Body")  # botocore swaps an S3 body for a stream later on: size it now
            if isinstance(body, str | bytes | bytearray):
                context["bench_body_bytes"] = len(body.encode() if isinstance(body, str) else body)

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        current = PHASE.get()
        if current is None or self.run is None:
            return
        params = context.get("bench_params") or {}
        call = Call(self.run, current, model.service_model.service_name, model.name)
        call.latency_ms = (time.perf_counter() - context.get("bench_started", time.perf_counter())) * 1000
        if call.service == "dynamodb":
            self._dynamodb(call, params, parsed)
        elif call.service == "s3":
            call.payload_bytes = context.get("bench_body_bytes", 0)
            call.label = "raw payload" if call.operation == "PutObject" else ""
        elif call.service == "sqs":
            self._sqs(call, params, parsed)
        elif call.service == "stepfunctions":
            call.payload_bytes = len(params.get("input", "").encode())
            if call.operation == "StartExecution":
                intake = "IntakeStateMachine" in params.get("stateMachineArn", "")
                call.label = "intake workflow (Express)" if intake else "SLA timer"
        self.calls.append(call)

    def _sqs(self, call: Call, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        def size(body: str, attributes: dict[str, Any]) -> int:
            return len(body.encode()) + sum(
                len(k) + len(a.get("DataType", "")) + len(a.get("StringValue", ""))
                for k, a in (attributes or {}).items()
            )

        if call.operation == "SendMessage":
            call.payload_bytes = size(params["MessageBody"], params.get("MessageAttributes", {}))
        elif call.operation == "ReceiveMessage":
            call.payload_bytes = sum(
                size(m["Body"], m.get("MessageAttributes", {})) for m in parsed.get("Messages", [])
            )
            call.messages = len(parsed.get("Messages", []))
        call.requests = max(1, math.ceil(call.payload_bytes / SQS_CHUNK_BYTES))

    def _label(self, table: str, item_or_key: dict[str, Any]) -> str:
        if self.table_kinds.get(table) == "IdempotencyTable":
            return "idempotency record"
        sk = (item_or_key.get("SK") or {}).get("S", "")
        return next((label for prefix, label in _SK_LABELS if sk.startswith(prefix)), sk or table)

    def _gsi(self, table: str, item: dict[str, Any]) -> tuple[float, int]:
        """(WRU, bytes) of the index entries a new item gets (every index whose keys it carries)."""
        wru, stored = 0.0, 0
        for index in self.gsis.get(table, []):
            if index.hash_key not in item or (index.range_key and index.range_key not in item):
                continue
            if index.projection == "ALL":
                size = item_size(item)
            else:
                names = {*self.key_attrs[table], index.hash_key, index.range_key or index.hash_key}
                if index.projection == "INCLUDE":
                    names.update(index.non_key)
                size = item_size({k: v for k, v in item.items() if k in names})
            wru += write_units(size)
            stored += size + ITEM_STORAGE_OVERHEAD
        return wru, stored

    def _put(self, call: Call, table: str, item: dict[str, Any], factor: float, how: str) -> None:
        size = item_size(item)
        gsi_wru, gsi_bytes = self._gsi(table, item)  # index updates propagate outside the transaction: 1x
        label = self._label(table, item)
        if label == "ticket":
            self.ticket_item = item
        call.wru += factor * write_units(size)
        call.gsi_wru += gsi_wru
        call.written.append(Written(label, how, size, factor * write_units(size), gsi_wru, gsi_bytes))

    def _dynamodb(self, call: Call, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        table, op = params.get("TableName", ""), call.operation
        if op == "GetItem":
            item = parsed.get("Item")
            call.rru = read_units(item_size(item) if item else 0, bool(params.get("ConsistentRead")))
            call.label = self._label(table, params["Key"]) + ("" if item else " (not found)")
        elif op == "Query":
            index = params.get("IndexName")
            size = sum(item_size(i) for i in parsed.get("Items", []))
            call.rru = read_units(size, bool(params.get("ConsistentRead")) and index is None)
            call.label = f"index {index}" if index else "table"
        elif op == "BatchGetItem":
            for name, items in parsed.get("Responses", {}).items():
                consistent = bool(params["RequestItems"][name].get("ConsistentRead"))
                call.rru += sum(read_units(item_size(i), consistent) for i in items)
            call.label = "tickets"
        elif op == "PutItem":
            self._put(call, table, params["Item"], 1, "PutItem")
            call.label = self._label(table, params["Item"])
        elif op in ("UpdateItem", "DeleteItem"):
            call.label = self._label(table, params["Key"])
            call.pending.append((table, params["Key"], 1, op))
        elif op == "TransactWriteItems":
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                if kind == "Put":
                    self._put(call, body["TableName"], body["Item"], 2, "TransactWriteItems")
                else:
                    call.pending.append((body["TableName"], body["Key"], 2, f"Transact {kind}"))
            call.label = f"{len(params['TransactItems'])} items"

    def resolve_pending(self, client: Any) -> None:
        """Updates and deletes cost the larger of the item before and after: the item as it is now (read
        with a client that is not counted) is the larger one for every update this code path makes."""
        for call in self.calls:
            for table, key, factor, how in call.pending:
                item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}
                size = item_size(item)
                call.wru += factor * write_units(size)
                call.written.append(Written(self._label(table, key), how, size, factor * write_units(size), 0, 0))
            call.pending.clear()


# ================================================================================================
# Step Functions: the SLA timer's two paths, from the ASL
# ================================================================================================


def asl_path(definition: dict[str, Any], breached: bool) -> list[str]:
    """States entered from StartAt to the end. Choice states take their first branch (the timer has a
    warning point); a conditional DynamoDB update succeeds on the breach path and, on the answered
    path, fails its condition (the ticket was answered) and follows its ConditionalCheckFailed catch."""
    states, name, path = definition["States"], definition["StartAt"], []
    while name:
        state = states[name]
        path.append(name)
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            break
        if state["Type"] == "Choice":
            name = state["Choices"][0]["Next"]
            continue
        catch = next(
            (
                c["Next"]
                for c in state.get("Catch", [])
                if "DynamoDB.ConditionalCheckFailedException" in c["ErrorEquals"]
            ),
            None,
        )
        name = catch if (catch and not breached) else state["Next"]
    return path


@dataclass
class SlaPathCost:
    name: str
    states: list[str]
    rru: float = 0.0
    wru: float = 0.0
    sqs: int = 0

    @property
    def transitions(self) -> int:
        return len(self.states)


def sla_timer_costs(recorder: AwsCallRecorder, table: str) -> tuple[SlaPathCost, SlaPathCost, int]:
    """What each path costs in DynamoDB and SQS for the ticket item this run wrote."""
    definition = json.loads(ASL_FILE.read_text())
    ticket = dict(recorder.ticket_item or {})
    ticket_bytes = item_size(ticket)
    breached_item = {**ticket, "sla_breached_at": {"S": "2030-01-01T00:00:00.000Z"}, "sla_breached": {"BOOL": True}}
    paths = []
    for name, breached in (("answered in time", False), ("breached", True)):
        cost = SlaPathCost(name, asl_path(definition, breached))
        for state in cost.states:
            resource = definition["States"][state].get("Resource", "")
            if resource.endswith(":dynamodb:getItem"):  # eventually consistent; ProjectionExpression does not
                cost.rru += read_units(ticket_bytes, consistent=False)  # lower the cost: the whole item counts
            elif resource.endswith(":dynamodb:updateItem"):
                cost.wru += write_units(item_size(breached_item)) + recorder._gsi(table, breached_item)[0]
            elif resource.endswith(":sqs:sendMessage"):
                cost.sqs += 1
        paths.append(cost)
    return paths[0], paths[1], ticket_bytes


# ================================================================================================
# The local stack: (b) in-process webhook CPU, (c) tickets end to end
# ================================================================================================


def expire_secret_cache() -> None:
    """Drop the values Powertools' secrets provider cached, keeping its client (a warm container whose
    5-minute cache ran out)."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    provider = DEFAULT_PROVIDERS.get("secrets")
    if provider is not None:
        provider.clear_cache()


@dataclass
class RunStats:
    name: str
    tickets: int
    batch_size: int
    webhook_ms: list[float] = field(default_factory=list)
    webhook_thread_ms: list[float] = field(default_factory=list)
    ingest_ms: list[float] = field(default_factory=list)
    ingest_thread_ms: list[float] = field(default_factory=list)
    ingest_records: list[int] = field(default_factory=list)
    intake_ms: list[float] = field(default_factory=list)  # IntakeFunction invocations (Enrich, Decide)
    intake_thread_ms: list[float] = field(default_factory=list)
    intake_actions: Counter[str] = field(default_factory=Counter)
    intake_executions_ms: list[float] = field(default_factory=list)  # Express executions, start to stop (moto)
    intake_billed_mb: int = SFN_EXPRESS_MEMORY_CHUNK_MB
    timers_started: int = 0  # SLA timer executions (ticketing's first one, and the intake's re-armed ones)
    events_ms: list[float] = field(default_factory=list)  # TicketEventsFunction batches (report aggregates)
    events_thread_ms: list[float] = field(default_factory=list)
    events_records: list[int] = field(default_factory=list)
    wall_s: float = 0.0  # first webhook to the last intake execution and stream batch done
    log: dict[str, Any] = field(default_factory=dict)

    @property
    def superseded_timers(self) -> int:
        """Timer executions a newer deadline version replaced: each ends as stale at its first record."""
        return max(0, self.timers_started - self.tickets)


def run_local_stack() -> dict[str, Any]:
    import logging

    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)

    recorder = AwsCallRecorder()
    recorder.install()  # before the stack: every client created afterwards carries the hooks

    from helpdesk.adapters.dynamodb import DynamoRepository
    from infrastructure.local import demo
    from infrastructure.local.stack import LocalFunction, LocalStack

    stack = LocalStack(poll_event_sources=False)
    started = time.perf_counter()
    stack.start()
    progress(f"local stack up in {time.perf_counter() - started:.1f} s")
    out: dict[str, Any] = {"recorder": recorder}
    try:
        refs = stack.resolver.refs
        recorder.configure_tables(stack.template, refs)
        table = refs["HelpdeskTable"]
        ddb, sqs, sfn = stack.client("dynamodb"), stack.client("sqs"), stack.client("stepfunctions")
        demo.seed(DynamoRepository(ddb, table), stack.client("secretsmanager"))
        webhook, ingest = stack.functions["WebhookFunction"], stack.functions["IngestConsumerFunction"]
        intake = stack.functions["IntakeFunction"]
        source = next(e["Properties"] for e in ingest.events.values() if e["Type"] == "SQS")
        events_fn = stack.functions["TicketEventsFunction"]
        events_source = events_fn.events["TableChanges"]["Properties"]
        out["memory_mb"] = {
            "webhook": webhook.memory_mb,
            "ingest": ingest.memory_mb,
            "intake": intake.memory_mb,
            "events": events_fn.memory_mb,
        }
        intake_arn = stack.state_machines["IntakeStateMachine"]
        timer_arn = stack.state_machines["SlaTimerStateMachine"]

        def executions(arn: str) -> list[dict[str, Any]]:
            return [
                e
                for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
                for e in page["executions"]
            ]

        out["batch_size"] = int(source.get("BatchSize", 10))

        # (b) warm webhook, in-process against moto
        progress(f"(b) {WARM_REQUESTS} warm webhook requests against the local stack")
        events = webhook_events(200_000, WARM_WARMUP + WARM_REQUESTS)
        sink: dict[str, Any] = {}
        with captured_stdout(sink):
            out["local_cpu"] = measure_requests(webhook.invoke, events, WARM_WARMUP)
        sqs.purge_queue(QueueUrl=refs["InboundQueue"])

        current: dict[str, RunStats] = {}

        def timed_ingest(event: dict[str, Any]) -> Any:
            with phase("ingest"):
                t0, w0 = time.thread_time(), time.perf_counter()
                result = LocalFunction.invoke(ingest, event)
                wall, cpu = (time.perf_counter() - w0) * 1000, (time.thread_time() - t0) * 1000
            if "run" in current:
                current["run"].ingest_ms.append(wall)
                current["run"].ingest_thread_ms.append(cpu)
                current["run"].ingest_records.append(len(event["Records"]))
            if (result or {}).get("batchItemFailures"):
                raise RuntimeError(f"ingest consumer reported failures: {result}")
            return result

        ingest.invoke = timed_ingest  # type: ignore[method-assign]

        def timed_intake(event: dict[str, Any]) -> Any:
            """The intake workflow's Lambda tasks, called from moto's Step Functions engine (its own thread:
            the phase set here is what counts this thread's AWS calls)."""
            with phase("intake"):
                t0, w0 = time.thread_time(), time.perf_counter()
                try:
                    return LocalFunction.invoke(intake, event)
                finally:
                    wall, cpu = (time.perf_counter() - w0) * 1000, (time.thread_time() - t0) * 1000
                    if "run" in current:
                        current["run"].intake_ms.append(wall)
                        current["run"].intake_thread_ms.append(cpu)
                        current["run"].intake_actions[str(event.get("action"))] += 1

        intake.invoke = timed_intake  # type: ignore[method-assign]

        def timed_events(event: dict[str, Any]) -> Any:
            """The table's stream → report aggregates (one invocation per stream batch)."""
            with phase("events"):
                t0, w0 = time.thread_time(), time.perf_counter()
                try:
                    return LocalFunction.invoke(events_fn, event)
                finally:
                    wall, cpu = (time.perf_counter() - w0) * 1000, (time.thread_time() - t0) * 1000
                    if "run" in current:
                        current["run"].events_ms.append(wall)
                        current["run"].events_thread_ms.append(cpu)
                        current["run"].events_records.append(len(event.get("Records", [])))

        events_fn.invoke = timed_events  # type: ignore[method-assign]

        def drain_events() -> None:
            while stack.drain_stream_once(events_fn, events_source):
                pass

        def settle(before: set[str], expected: int) -> list[dict[str, Any]]:
            """Wait for the intake executions the last tickets started (Express, run by moto's engine)."""
            deadline = time.monotonic() + 120
            while True:
                started = [e for e in executions(intake_arn) if e["executionArn"] not in before]
                if len(started) >= expected and all(e["status"] != "RUNNING" for e in started):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(started)} of {expected} intake executions finished in time")
                time.sleep(0.2)
            failed = Counter(e["status"] for e in started if e["status"] != "SUCCEEDED")
            if failed:
                raise RuntimeError(f"intake executions did not succeed: {dict(failed)}")
            return started

        def counted_run(stats: RunStats, body: Callable[[], None]) -> None:
            intakes_before = {e["executionArn"] for e in executions(intake_arn)}
            timers_before = {e["executionArn"] for e in executions(timer_arn)}
            current["run"], recorder.run = stats, stats.name
            began = time.perf_counter()
            body()
            started = settle(intakes_before, stats.tickets)
            drain_events()  # what the batches of the run left on the stream
            stats.wall_s = time.perf_counter() - began
            stats.intake_executions_ms = [(e["stopDate"] - e["startDate"]).total_seconds() * 1000 for e in started]
            stats.intake_billed_mb = express_billed_mb(sfn, started[:5])
            stats.timers_started = len({e["executionArn"] for e in executions(timer_arn)} - timers_before)

        def drain(props: dict[str, Any], expected: int) -> None:
            done = idle = 0
            while done < expected:
                with phase("esm"):
                    got = stack.drain_sqs_once(ingest, props)
                done += got
                idle = 0 if got else idle + 1
                if idle > 50:
                    raise RuntimeError(f"ingest queue ran dry after {done} of {expected} messages")

        def send(stats: RunStats, event: dict[str, Any]) -> None:
            with phase("webhook"):
                t0, w0 = time.thread_time(), time.perf_counter()
                result = webhook.invoke(event)
                w1, t1 = time.perf_counter(), time.thread_time()
            check_accepted(result)
            stats.webhook_ms.append((w1 - w0) * 1000)
            stats.webhook_thread_ms.append((t1 - t0) * 1000)

        # warm the ingest consumer and the intake (import, clients) outside any counted run
        with captured_stdout(sink):
            warm_before = {e["executionArn"] for e in executions(intake_arn)}
            for event in webhook_events(300_000, 2):
                webhook.invoke(event)
            drain(source, 2)
            settle(warm_before, 2)
            drain_events()
        depth = sqs.get_queue_attributes(QueueUrl=refs["InboundQueue"], AttributeNames=["ApproximateNumberOfMessages"])
        if int(depth["Attributes"]["ApproximateNumberOfMessages"]):
            raise RuntimeError("the ingest queue is not empty before the counted runs")

        # (c) run 1: a busy shop: every webhook, then the queue drained in full batches; secret cached
        progress(f"(c) {TICKETS} tickets end to end, ingest batches of {out['batch_size']}")
        batched = RunStats("batched", TICKETS, out["batch_size"])
        expire_secret_cache()  # as in a new container: one GetSecretValue, then Powertools' 5-minute cache

        def busy_shop() -> None:
            for event in webhook_events(400_000, TICKETS):
                send(batched, event)
            drain(source, TICKETS)

        with captured_stdout(batched.log):
            counted_run(batched, busy_shop)

        # (c) run 2: a quiet shop: each order alone, one message per ingest batch, secret cache expired
        progress(f"(c) {ONE_BY_ONE_TICKETS} tickets one by one (batch of 1, secret fetched each time)")
        single = RunStats("one-by-one", ONE_BY_ONE_TICKETS, 1)

        def quiet_shop() -> None:
            for event in webhook_events(500_000, ONE_BY_ONE_TICKETS):
                expire_secret_cache()
                send(single, event)
                drain({**source, "BatchSize": 1}, 1)
                time.sleep(0.3)  # a quiet shop: this ticket's intake before the stream's next batch
                drain_events()

        with captured_stdout(single.log):
            counted_run(single, quiet_shop)
        recorder.run = None
        current.clear()
        out["runs"] = [batched, single]
        recorder.resolve_pending(ddb)

        # every ticket has its SLA timer running; then check the ASL paths on moto's engine
        timers = executions(timer_arn)
        out["executions"] = Counter(e["status"] for e in timers)
        out["tickets_with_timers"] = 2 + TICKETS + ONE_BY_ONE_TICKETS
        out["verified_paths"] = verify_sla_paths(sfn, ddb, table, timer_arn, timers)
        out["sla"] = sla_timer_costs(recorder, table)
    finally:
        with contextlib.suppress(Exception):
            sfn = stack.client("stepfunctions")
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=stack.state_machines["SlaTimerStateMachine"], statusFilter="RUNNING"
            ):
                for execution in page["executions"]:
                    sfn.stop_execution(executionArn=execution["executionArn"])
        stack.stop()
    return out


def express_billed_mb(sfn: Any, started: list[dict[str, Any]]) -> int:
    """Billed memory of the intake's Express executions by the pricing page's estimate: 50 MB + the state
    machine definition + the execution data (the largest state input or output seen), in 64 MB chunks."""
    data = 0
    for execution in started:
        for event in sfn.get_execution_history(executionArn=execution["executionArn"])["events"]:
            for details in event.values():
                if isinstance(details, dict):
                    data = max(data, *(len(str(details.get(k) or "").encode()) for k in ("input", "output")))
    used = SFN_EXPRESS_BASE_MB * 1024 * 1024 + len(INTAKE_ASL_FILE.read_bytes()) + data
    chunk = SFN_EXPRESS_MEMORY_CHUNK_MB * 1024 * 1024
    return math.ceil(used / chunk) * SFN_EXPRESS_MEMORY_CHUNK_MB


def verify_sla_paths(sfn: Any, ddb: Any, table: str, arn: str, executions: list[dict[str, Any]]) -> dict[str, Any]:
    """Re-run two real timers with their deadline moved into the past: one ticket answered meanwhile, one not.
    The states moto's engine enters must be the paths counted from the ASL. A timer the intake replaced by a
    newer deadline version (re-run with its old version) must end as stale the way an answered one does."""
    latest: dict[str, dict[str, Any]] = {}
    superseded: list[dict[str, Any]] = []
    for execution in (e for e in executions if e["status"] == "RUNNING"):
        ticket, _, version = execution["name"].rpartition("-v")
        other = latest.get(ticket)
        if other is None or int(version) > int(other["name"].rpartition("-v")[2]):
            if other is not None:
                superseded.append(other)
            latest[ticket] = execution
        else:
            superseded.append(execution)
    running = list(latest.values())[:2]
    if len(running) < 2:
        return {}
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entered: dict[str, Any] = {}
    cases = [(running[0], "answered in time"), (running[1], "breached")]
    verified = {e["name"].rpartition("-v")[0] for e in running}
    cases += [(e, "superseded") for e in superseded if e["name"].rpartition("-v")[0] not in verified][:1]
    for execution, path in cases:
        answered = path == "answered in time"
        payload = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        payload["due_at"] = past
        payload["warn_at"] = past
        if answered:
            ddb.update_item(
                TableName=table,
                Key={"PK": {"S": payload["pk"]}, "SK": {"S": payload["sk"]}},
                UpdateExpression="SET first_responded_at = :t",
                ExpressionAttributeValues={":t": {"S": past}},
            )
        name = f"bench-{path.split()[0]}-{payload['ticket_id']}-v{payload['timer_version']}"[:80]
        started = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
        status, deadline = "RUNNING", time.monotonic() + 15
        while status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
            status = sfn.describe_execution(executionArn=started["executionArn"])["status"]
        history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
        entered[path] = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        entered[f"{path} status"] = status
    return entered


# ================================================================================================
# Cost model
# ================================================================================================


@dataclass
class Line:
    service: str
    what: str
    units: float  # per ticket
    unit_name: str
    usd_per_1000: float


FUNCTIONS = ("webhook", "ingest", "intake", "events")


def measured_durations(run: RunStats) -> dict[str, list[float]]:
    """Warm wall times measured against the local stack: each function's invocations, and the intake's
    Express executions from start to stop as moto's engine recorded them."""
    return {
        "webhook": run.webhook_ms,
        "ingest": run.ingest_ms,
        "intake": run.intake_ms,
        "events": run.events_ms,
        "express": run.intake_executions_ms,
    }


def modelled_durations(run: RunStats, calls: list[Call], memory_mb: dict[str, int]) -> dict[str, list[float]]:
    """Per invocation: the invoking thread's CPU stretched to the function's share of a vCPU, plus the
    assumed AWS latency of the calls it made (moto's own latencies left out). An intake execution: its
    Lambda tasks so modelled, each with the assumed task overhead, plus the ArmTimer StartExecution."""
    durations = {}
    for function, cpu_ms in (
        ("webhook", run.webhook_thread_ms),
        ("ingest", run.ingest_thread_ms),
        ("intake", run.intake_thread_ms),
        ("events", run.events_thread_ms),
    ):
        mine = [c for c in calls if c.run == run.name and c.phase == function]
        latency = sum(
            ASSUMED_AWS_LATENCY_MS.get(f"{c.service}.{c.operation}", ASSUMED_AWS_LATENCY_MS[c.service]) for c in mine
        ) / max(1, len(cpu_ms))
        stretch = max(1.0, LAMBDA_MB_PER_VCPU / memory_mb[function])
        durations[function] = [cpu * stretch + latency for cpu in cpu_ms]
    executions = len(run.intake_executions_ms)
    tasks = sum(durations["intake"]) + ASSUMED_TASK_OVERHEAD_MS * len(durations["intake"])
    per_execution = tasks / max(1, executions) + ASSUMED_AWS_LATENCY_MS["stepfunctions"]
    durations["express"] = [per_execution] * executions
    return durations


def lambda_gb_s(durations: dict[str, list[float]], memory_mb: dict[str, int], functions: tuple[str, ...]) -> float:
    """Billed Lambda GB-s: each invocation's duration rounded up to 1 ms, times the function's memory."""
    return sum(sum(math.ceil(ms) for ms in durations[f]) / 1000 * memory_mb[f] / 1024 for f in functions)


def express_gb_s(run: RunStats, durations: dict[str, list[float]]) -> float:
    """Billed Express GB-s: each execution rounded up to 100 ms, times its billed memory (64 MB chunks)."""
    billed_ms = sum(math.ceil(ms / SFN_EXPRESS_BILLING_MS) * SFN_EXPRESS_BILLING_MS for ms in durations["express"])
    return billed_ms / 1000 * run.intake_billed_mb / 1024


@dataclass
class TimerUnits:
    """The SLA timers of a run, in billable units: every ticket's current timer at the answered/breached mix,
    plus each timer a newer deadline version superseded, which ends as stale at its first conditional
    record exactly like an answered one (same states, same failed conditional write)."""

    transitions: float
    wru: float
    rru: float
    sqs: float


def timer_units(run: RunStats, answered: SlaPathCost, breached: SlaPathCost) -> TimerUnits:
    n, share, stale = run.tickets, SLA_BREACH_SHARE, run.superseded_timers

    def units(attribute: str) -> float:
        late, in_time = getattr(breached, attribute), getattr(answered, attribute)
        return n * (share * late + (1 - share) * in_time) + stale * in_time

    return TimerUnits(units("transitions"), units("wru"), units("rru"), units("sqs"))


def cost_lines(
    run: RunStats,
    calls: list[Call],
    memory_mb: dict[str, int],
    answered: SlaPathCost,
    breached: SlaPathCost,
    durations: dict[str, list[float]] | None = None,
) -> list[Line]:
    n = run.tickets
    mine = [c for c in calls if c.run == run.name]
    share = SLA_BREACH_SHARE

    def per_1000(total_usd: float) -> float:
        return total_usd / n * 1000

    invocations = len(run.webhook_ms) + len(run.ingest_ms) + len(run.intake_ms) + len(run.events_ms)
    durations = durations or measured_durations(run)
    gb_s = lambda_gb_s(durations, memory_mb, FUNCTIONS)
    timers = timer_units(run, answered, breached)
    wru = sum(c.wru + c.gsi_wru for c in mine if c.service == "dynamodb")
    rru = sum(c.rru for c in mine if c.service == "dynamodb")
    sqs = sum(c.requests for c in mine if c.service == "sqs")
    s3_put = sum(1 for c in mine if c.service == "s3" and not c.operation.startswith(("Get", "Head")))
    s3_get = sum(1 for c in mine if c.service == "s3" and c.operation.startswith(("Get", "Head")))
    secrets = sum(1 for c in mine if c.service == "secretsmanager")
    executions = len(run.intake_executions_ms)
    express = express_gb_s(run, durations)
    return [
        Line("API Gateway HTTP API", "1 request per webhook", 1.0, "req", per_1000(n * HTTP_API_REQUEST)),
        Line(
            "Lambda",
            f"requests: {len(run.webhook_ms)} webhook + {len(run.ingest_ms)} ingest + "
            f"{len(run.intake_ms)} intake task + {len(run.events_ms)} ticket-events (stream batches of "
            f"{max(run.events_records, default=0)} records) invocations",
            invocations / n,
            "req",
            per_1000(invocations * LAMBDA_REQUEST),
        ),
        Line(
            "Lambda",
            "compute: billed ms (ceil) × memory (arm64)",
            gb_s / n,
            "GB-s",
            per_1000(gb_s * LAMBDA_ARM_GB_SECOND),
        ),
        Line(
            "DynamoDB",
            "writes (table + GSI), incl. intake, SLA timer and report-counter updates",
            (wru + timers.wru) / n,
            "WRU",
            per_1000((wru + timers.wru) * DYNAMODB_WRU),
        ),
        Line(
            "DynamoDB",
            "reads (the SLA timer reads nothing: its writes are conditional)",
            (rru + timers.rru) / n,
            "RRU",
            per_1000((rru + timers.rru) * DYNAMODB_RRU),
        ),
        Line(
            "SQS",
            "ingest queue send + Lambda poller receive/delete + breach events",
            (sqs + timers.sqs) / n,
            "req",
            per_1000((sqs + timers.sqs) * SQS_REQUEST),
        ),
        Line(
            "S3",
            "PUT of the raw payload (GETs: none)",
            (s3_put + s3_get) / n,
            "req",
            per_1000(s3_put * S3_PUT + s3_get * S3_GET),
        ),
        Line(
            "Step Functions",
            f"Standard transitions: {run.timers_started / n:.2f} SLA timers per ticket "
            f"({run.superseded_timers / n:.2f} superseded), {100 - share * 100:.0f}/{share * 100:.0f} "
            "answered/breached",
            timers.transitions / n,
            "transitions",
            per_1000(timers.transitions * SFN_STANDARD_TRANSITION),
        ),
        Line(
            "Step Functions",
            "Express requests: intake executions (one per stored buyer message)",
            executions / n,
            "req",
            per_1000(executions * SFN_EXPRESS_REQUEST),
        ),
        Line(
            "Step Functions",
            f"Express duration: billed per {SFN_EXPRESS_BILLING_MS} ms × {run.intake_billed_mb} MB",
            express / n,
            "GB-s",
            per_1000(express * SFN_EXPRESS_GB_SECOND),
        ),
        Line(
            "Secrets Manager",
            "GetSecretValue (Powertools cache, 5 min)",
            secrets / n,
            "calls",
            per_1000(secrets * SECRETS_API_CALL),
        ),
    ]


def workflow_costs(
    run: RunStats,
    calls: list[Call],
    memory_mb: dict[str, int],
    answered: SlaPathCost,
    breached: SlaPathCost,
    durations: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """$ per 1,000 tickets of the intake workflow and the SLA timers alone (part of the totals above): the
    Express executions, the IntakeFunction invocations and the AWS calls they make, and the timers'
    transitions with the writes and events their tasks make."""
    durations = durations or measured_durations(run)
    n = run.tickets
    intake = [c for c in calls if c.run == run.name and c.phase == "intake"]
    timers = timer_units(run, answered, breached)
    executions = len(run.intake_executions_ms)
    ddb = (
        sum(c.wru + c.gsi_wru for c in intake if c.service == "dynamodb") * DYNAMODB_WRU
        + sum(c.rru for c in intake if c.service == "dynamodb") * DYNAMODB_RRU
        + sum(1 for c in intake if c.service == "secretsmanager") * SECRETS_API_CALL
    )
    return {
        "intake: Express requests + duration": (
            executions * SFN_EXPRESS_REQUEST + express_gb_s(run, durations) * SFN_EXPRESS_GB_SECOND
        )
        / n
        * 1000,
        "intake: Lambda tasks (Enrich, Decide) requests + compute": (
            len(run.intake_ms) * LAMBDA_REQUEST + lambda_gb_s(durations, memory_mb, ("intake",)) * LAMBDA_ARM_GB_SECOND
        )
        / n
        * 1000,
        "intake: DynamoDB and Secrets Manager calls of its tasks": ddb / n * 1000,
        "SLA timers: Standard transitions": timers.transitions * SFN_STANDARD_TRANSITION / n * 1000,
        "SLA timers: their DynamoDB writes and SQS events": (timers.wru * DYNAMODB_WRU + timers.sqs * SQS_REQUEST)
        / n
        * 1000,
    }


def extra_lines(run: RunStats) -> list[Line]:
    n = run.tickets
    invocations = len(run.webhook_ms) + len(run.ingest_ms) + len(run.intake_ms) + len(run.events_ms)
    log_bytes = run.log.get("bytes", 0) + invocations * LAMBDA_PLATFORM_LOG_BYTES
    return [
        Line(
            "CloudWatch Logs",
            f"ingestion: {run.log.get('bytes', 0) / n:.0f} B app logs + EMF per ticket, "
            f"+{LAMBDA_PLATFORM_LOG_BYTES} B platform lines per invocation",
            log_bytes / n,
            "bytes",
            log_bytes / GB * CLOUDWATCH_LOGS_INGEST_GB / n * 1000,
        ),
        Line(
            "X-Ray",
            "Tracing: Active, every invocation sampled (upper bound)",
            invocations / n,
            "traces",
            invocations * XRAY_TRACE_RECORDED / n * 1000,
        ),
    ]


# ================================================================================================
# Report
# ================================================================================================


def report_imports(report: Report, imports: dict[str, Any]) -> None:
    samples = imports["samples"]
    boto3_ms = median(samples["`import boto3`"]["import_ms"])
    report.heading("(a) Cold start: import time of each handler module")
    report.emit(
        f"Each figure is the median of {IMPORT_RUNS} fresh interpreters (`{Path(sys.executable).name} -c`, "
        "one discarded warm-up round first, so .pyc files exist as in a built layer), with the "
        "function's environment variables set (dummy resource names, AWS_DEFAULT_REGION=us-east-1) and "
        "PYTHONPATH=shared:. . *import* is `time.perf_counter()` around the import statement; *process* "
        "is spawn-to-exit wall time of the whole interpreter."
    )
    report.emit()
    rows = []
    for label in [t[0] for t in IMPORT_TARGETS] + [COLD_LABEL]:
        s = samples[label]
        imp = median(s["import_ms"])
        ratio = "–" if label == IMPORT_TARGETS[0][0] else f"{imp / boto3_ms:.2f}×"
        rows.append(
            [
                label,
                f"{imp:.1f} ms",
                f"{min(s['import_ms']):.1f}–{max(s['import_ms']):.1f} ms",
                f"{median(s['wall_ms']):.1f} ms",
                ratio,
            ]
        )
    report.table(["what is imported", "import (median)", "import (range)", "process (median)", "÷ boto3 import"], rows)
    ratio = median(samples["webhook handler"]["import_ms"]) / boto3_ms
    report.emit(
        f"**Target: webhook import ≤ {TARGET_IMPORT_RATIO}× bare `import boto3`: "
        f"{ratio:.2f}× → {verdict(ratio <= TARGET_IMPORT_RATIO)}** "
        f"(webhook {median(samples['webhook handler']['import_ms']):.0f} ms vs boto3 {boto3_ms:.0f} ms)."
    )
    report.emit()
    cold = samples[COLD_LABEL]
    report.emit(
        f"The first request adds {median(cold['first_ms']):.0f} ms on top of the import (boto3 clients, the "
        f"lazily imported Powertools parameters utility and WooCommerce connector; AWS answered by a stub); "
        f"the second request takes {median(cold['second_ms']):.1f} ms."
    )
    report.emit()
    modules: dict[str, float] = imports["importtime"]
    by_package: Counter[str] = Counter()
    for name, ms in modules.items():
        by_package[name.split(".")[0]] += ms
    total = sum(modules.values())
    report.emit(
        f"Where the webhook's import time goes (`python -X importtime`, one run; {total:.0f} ms of self time "
        "in all, interpreter start-up included), by top-level package and the slowest single modules:"
    )
    report.emit()
    slowest = sorted(modules.items(), key=lambda kv: -kv[1])[:10]
    rows = [
        [name, f"{ms:.1f} ms", f"{ms / total:.0%}", module, f"{module_ms:.1f} ms"]
        for (name, ms), (module, module_ms) in zip(by_package.most_common(10), slowest, strict=True)
    ]
    report.table(["package", "self time", "share", "module", "self time"], rows, align="lrrlr")


def report_cpu(report: Report, stub: dict[str, Any], local: dict[str, Any]) -> None:
    memory = local["memory_mb"]["webhook"]
    report.heading("(b) Warm webhook CPU per request")
    report.emit(
        "Signed WooCommerce `order.created` deliveries (each a new order id and delivery id) as API Gateway "
        "HTTP API v2 events, straight into `lambda_handler`, after a warm-up. CPU is "
        "`time.process_time()` (rows 4 and 5 also `time.thread_time()`) around each invocation."
    )
    report.emit()
    rows = []
    modes = [
        (
            "1. AWS answered by a canned HTTP server in another process",
            stub["canned_server"],
            "cpu_ms",
            STUB_REQUESTS,
            "handler + Powertools + botocore + urllib3/socket I/O (plain HTTP, no TLS)",
        ),
        (
            "2. AWS stubbed at botocore's HTTP layer ('before-send')",
            stub["http_stub"],
            "cpu_ms",
            STUB_REQUESTS,
            "row 1 without the HTTP/socket work",
        ),
        (
            "3. boto3 clients replaced by fakes",
            stub["fake_clients"],
            "cpu_ms",
            STUB_REQUESTS,
            "product code + Powertools only",
        ),
        (
            "4. local stack (moto in-process), invoking thread",
            local["local_cpu"],
            "thread_ms",
            WARM_REQUESTS,
            "row 1 + moto's slower responses parsed, GIL hand-offs",
        ),
        (
            "5. local stack (moto in-process), whole process",
            local["local_cpu"],
            "cpu_ms",
            WARM_REQUESTS,
            "row 4 + moto serving the requests in its threads",
        ),
    ]
    for label, data, key, n, scope in modes:
        values = data[key]
        rows.append(
            [
                label,
                n,
                f"{median(values):.2f} ms",
                f"{percentile(values, 90):.2f} ms",
                f"{mean(values):.2f} ms",
                f"{median(data['wall_ms']):.2f} ms",
                scope,
            ]
        )
    report.table(
        [
            "mode (rows 1-3: fresh process, no moto)",
            "requests",
            "CPU median",
            "CPU p90",
            "CPU mean",
            "wall median",
            "what it includes",
        ],
        rows,
        align="lrrrrrl",
    )
    calls = ", ".join(f"{k} {v:.2f}" for k, v in sorted(stub["calls_per_request"].items()))
    report.emit(f"AWS calls per warm webhook request: {calls}.")
    report.emit()
    cpu = median(stub["canned_server"]["cpu_ms"])
    floor = median(stub["http_stub"]["cpu_ms"])
    report.emit(
        f"**Target: ≤ {TARGET_WARM_CPU_MS:.0f} ms warm CPU per webhook: {cpu:.2f} ms (median, row 1) → "
        f"{verdict(cpu <= TARGET_WARM_CPU_MS)}** (without the HTTP work, row 2: {floor:.2f} ms)."
    )
    if abs(cpu - TARGET_WARM_CPU_MS) < 0.15 * TARGET_WARM_CPU_MS:
        report.emit()
        report.emit(
            f"This is within 15 % of the target: on a shared machine the median moves by that much from run "
            f"to run (p90 {percentile(stub['canned_server']['cpu_ms'], 90):.2f} ms), so read it as "
            "borderline rather than as a margin, and TLS is still missing from it."
        )
    report.emit()
    report.emit(
        "Which figure compares to the target: row 1. It is everything the function's own process burns per "
        "request — handler, Powertools, botocore building, signing and parsing each call, and the HTTP "
        "client's socket work — with AWS replaced by a server in another process, so nothing else is "
        "counted. It still lacks TLS (AWS endpoints are HTTPS), so the deployed figure is somewhat higher. "
        "Row 5, the whole-process CPU against the local stack, contains moto serving each request in "
        "threads of this same process and overstates the function's CPU several times; row 4 leaves moto's "
        "threads out but is still inflated by contention with them. Row 3 shows how little of the CPU is "
        f"the product's own code. Caveats: measured on this machine's {platform.machine()} cores, Lambda "
        f"runs arm64; at {memory} MB a function gets about {memory / LAMBDA_MB_PER_VCPU:.0%} of a vCPU "
        f"({LAMBDA_MB_PER_VCPU:,} MB = 1 vCPU), so each CPU ms becomes roughly "
        f"{LAMBDA_MB_PER_VCPU / memory:.0f} ms of billed duration when CPU-bound."
    )


def report_requests(report: Report, local: dict[str, Any]) -> None:
    recorder: AwsCallRecorder = local["recorder"]
    batched, single = local["runs"]
    answered, breached, ticket_bytes = local["sla"]
    report.heading("(c) AWS requests per ticket")
    report.emit(
        f"Run **batched**: {batched.tickets} tickets, every webhook first, then the ingest queue drained with "
        f"`drain_sqs_once` in batches of {batched.batch_size} (the template's BatchSize), a fresh secret "
        f"cache at the start. Run **one-by-one**: {single.tickets} tickets, each webhook followed by a batch "
        "of 1 and with the secret cache expired (a quiet shop: orders minutes apart, so "
        "MaximumBatchingWindowInSeconds=1 collects one message). Each ticket: WooCommerce webhook → raw "
        "payload in S3 → envelope on SQS → order + ticket in DynamoDB → SLA timer execution started → "
        "intake workflow (Express: Enrich and Decide Lambda tasks, the SLA timer re-armed for the policy's "
        "deadline). Every call is counted by botocore `provide-client-params`/`after-call` hooks on every "
        "client; the SQS event source's receive/delete are made by `drain_sqs_once` on Lambda's behalf, "
        "the intake tasks' calls in moto's engine threads while the task runs."
    )
    report.emit()
    counts: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    latency: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for call in recorder.calls:
        key = (PHASE_NAMES[call.phase], SERVICE_NAMES.get(call.service, call.service), call.operation, call.label)
        counts[key][call.run] += 1
        latency[key].append(call.latency_ms)
    rows = [["API Gateway (HTTP API)", "HTTP API", "POST /webhooks/…", "", "1.00", "1.00", ""]]
    order = list(PHASE_NAMES.values())
    for key, per_run in sorted(counts.items(), key=lambda kv: (order.index(kv[0][0]), *kv[0][1:])):
        rows.append(
            [
                *key,
                f"{per_run[batched.name] / batched.tickets:.2f}",
                f"{per_run[single.name] / single.tickets:.2f}",
                f"{median(latency[key]):.1f} ms",
            ]
        )
    share = SLA_BREACH_SHARE
    workflow = "intake workflow (Express, Step Functions tasks)"
    per_run = {r.name: (len(r.intake_ms) / r.tickets, r.superseded_timers / r.tickets) for r in (batched, single)}
    rows.append(
        [
            workflow,
            "Lambda",
            "Invoke",
            "Enrich + Decide tasks",
            f"{per_run[batched.name][0]:.2f}",
            f"{per_run[single.name][0]:.2f}",
            "",
        ]
    )
    rows.append(
        [
            workflow,
            "Step Functions",
            "StartExecution",
            "SLA timer re-armed (ArmTimer)",
            f"{per_run[batched.name][1]:.2f}",
            f"{per_run[single.name][1]:.2f}",
            "",
        ]
    )
    sla = "SLA timer (Step Functions task)"
    rows.append(
        [
            sla,
            "DynamoDB",
            "UpdateItem",
            "ticket (RecordWarning, conditional; superseded timers too)",
            f"{1 + per_run[batched.name][1]:.2f}",
            f"{1 + per_run[single.name][1]:.2f}",
            "",
        ]
    )
    rows.append([sla, "DynamoDB", "UpdateItem", "ticket (RecordBreach)", f"{share:.2f}", f"{share:.2f}", ""])
    rows.append([sla, "SQS", "SendMessage", "warning and breach events", f"{2 * share:.2f}", f"{2 * share:.2f}", ""])
    # counted calls + API Gateway + the workflow's tasks + RecordWarning(s) + RecordBreach + its two events
    total = {
        r.name: sum(n[r.name] for n in counts.values()) / r.tickets
        + 1
        + sum(per_run[r.name])
        + 1
        + per_run[r.name][1]
        + share * 3
        for r in (batched, single)
    }
    rows.append(["**total API requests**", "", "", "", f"{total[batched.name]:.2f}", f"{total[single.name]:.2f}", ""])
    report.table(
        [
            "made by",
            "service",
            "operation",
            "what",
            "per ticket (batched)",
            "per ticket (one-by-one)",
            "local latency (moto, median)",
        ],
        rows,
        align="llllrrr",
    )
    received = [c.messages for c in recorder.calls if c.run == batched.name and c.operation == "ReceiveMessage"]
    report.emit(
        f"The poller's ReceiveMessage got {mean(received):.1f} messages per call in the batched run, 1 in "
        "the one-by-one run. Local latencies are moto's, not AWS's: its TransactWriteItems deep-copies the "
        "table once per item for rollback, so it slows down as the table grows."
    )
    report.emit()

    report.emit(
        "DynamoDB items written per ticket (batched run), sizes by DynamoDB's rules (attribute names + "
        "values; WRU = ⌈size / 1 KB⌉, ×2 inside TransactWriteItems; each GSI entry ⌈projected size / 1 KB⌉ "
        "at the standard rate, as index updates propagate outside the transaction):"
    )
    report.emit()
    written: dict[tuple[str, str], list[Written]] = defaultdict(list)
    for call in recorder.calls:
        if call.run == batched.name:
            for w in call.written:
                written[(w.label, w.how)].append(w)
    rows = []
    for (label, how), items in sorted(written.items(), key=lambda kv: -sum(w.wru + w.gsi_wru for w in kv[1])):
        rows.append(
            [
                label,
                how,
                f"{len(items) / batched.tickets:.2f}",
                f"{mean([w.size for w in items]):.0f} B",
                f"{sum(w.wru for w in items) / batched.tickets:.2f}",
                f"{sum(w.gsi_wru for w in items) / batched.tickets:.2f}",
            ]
        )
    wru_total = sum(c.wru + c.gsi_wru for c in recorder.calls if c.run == batched.name) / batched.tickets
    rru_total = sum(c.rru for c in recorder.calls if c.run == batched.name) / batched.tickets
    rows.append(["**all writes**", "", "", "", f"{wru_total:.2f} WRU incl. GSI", ""])
    report.table(
        ["item", "written by", "per ticket", "size", "WRU per ticket", "GSI WRU per ticket"], rows, align="llrrrr"
    )
    report.emit(
        f"Reads: {rru_total:.2f} RRU per ticket from the functions (eventually consistent GetItem/Query = ½ "
        "RRU per 4 KB, strongly consistent 1)."
    )
    report.emit()

    payload = mean([c.payload_bytes for c in recorder.calls if c.run == batched.name and c.service == "s3"])
    envelope = mean(
        [
            c.payload_bytes
            for c in recorder.calls
            if c.run == batched.name and c.service == "sqs" and c.operation == "SendMessage"
        ]
    )
    report.emit(
        f"S3 raw payload: {payload:.0f} B per object; SQS envelope: {envelope:.0f} B per message "
        f"(1 request per 64 KB chunk)."
    )
    report.emit()

    report.emit(
        f"Step Functions SLA timer (Standard), paths walked in {ASL_FILE.relative_to(ROOT)}; a transition is "
        "counted for every state entered:"
    )
    report.emit()
    verified = local.get("verified_paths", {})
    rows = []
    superseded = SlaPathCost("superseded", answered.states, answered.rru, answered.wru, answered.sqs)
    for label, path in (
        (answered.name, answered),
        (breached.name, breached),
        ("superseded by a newer deadline (ends stale)", superseded),
    ):
        seen = verified.get(path.name)
        check = (
            "matches moto's execution history"
            if seen == path.states
            else f"moto entered {seen}"
            if seen
            else "not verified"
        )
        rows.append(
            [label, " → ".join(path.states), path.transitions, f"{path.rru:.1f}", f"{path.wru:.0f}", path.sqs, check]
        )
    report.table(["path", "states entered", "transitions", "RRU", "WRU", "SQS req", "check"], rows, align="llrrrrl")
    expected = (1 - SLA_BREACH_SHARE) * answered.transitions + SLA_BREACH_SHARE * breached.transitions
    report.emit(
        f"Assumed mix {1 - SLA_BREACH_SHARE:.0%} answered in time / {SLA_BREACH_SHARE:.0%} breached → "
        f"{expected:.2f} transitions per ticket for its current timer. Ticket item: {ticket_bytes} B (a "
        "conditional update is billed as a write even when its condition fails). Timer executions started "
        f"per ticket: {batched.timers_started / batched.tickets:.2f} batched, "
        f"{single.timers_started / single.tickets:.2f} one-by-one — the ingest consumer starts one on the "
        "tenant's policy for the channel and store, and the intake starts another only when the intent or "
        "a rule moves the deadline (cancellations); the older one waits for its warning point and ends "
        "stale there (the answered path's "
        "states and conditional write). So per ticket: "
        f"{timer_units(batched, answered, breached).transitions / batched.tickets:.2f} transitions batched, "
        f"{timer_units(single, answered, breached).transitions / single.tickets:.2f} one-by-one. Executions "
        f"after the runs: {dict(local['executions'])} ({local['tickets_with_timers']} tickets including 2 "
        "warm-up tickets)."
    )
    report.emit()
    report.emit(
        f"Intake workflow (Express), {INTAKE_ASL_FILE.relative_to(ROOT)}: one execution per stored buyer "
        "message (a new ticket or a new message on one)."
    )
    report.emit()
    rows = []
    for run in (batched, single):
        actions = ", ".join(f"{k} {v / run.tickets:.2f}" for k, v in sorted(run.intake_actions.items()))
        billed = [math.ceil(ms / SFN_EXPRESS_BILLING_MS) * SFN_EXPRESS_BILLING_MS for ms in run.intake_executions_ms]
        rows.append(
            [
                run.name,
                f"{len(run.intake_executions_ms) / run.tickets:.2f}",
                f"{median(run.intake_executions_ms):.0f} ms",
                f"{mean(billed):.0f} ms",
                f"{run.intake_billed_mb} MB",
                actions,
                f"{median(run.intake_ms):.0f} ms",
            ]
        )
    report.table(
        [
            "run",
            "executions per ticket",
            "duration (moto, median)",
            "billed duration (mean)",
            "billed memory",
            "Lambda tasks per ticket",
            "task duration (median)",
        ],
        rows,
        align="lrrrrlr",
    )


FIGURES_FILE = ROOT / "bench/results/foundation.json"


def _save_figures(run: RunStats, lines: list[Line], calls: list[Call]) -> None:
    """The batched run's figures for the peak-season summary (bench/peak_season.py reads them)."""
    by_service: dict[str, float] = {}
    for line in lines:
        by_service[line.service] = by_service.get(line.service, 0.0) + line.usd_per_1000
    mine = [c for c in calls if c.run == run.name]
    requests = Counter(c.service for c in mine)
    FIGURES_FILE.write_text(
        json.dumps(
            {
                "tickets": run.tickets,
                "usd_per_1000_by_service": by_service,
                "usd_per_1000": sum(by_service.values()),
                "aws_requests_per_ticket": {k: v / run.tickets for k, v in sorted(requests.items())},
                "lambda_invocations_per_ticket": (
                    len(run.webhook_ms) + len(run.ingest_ms) + len(run.intake_ms) + len(run.events_ms)
                )
                / run.tickets,
                "throughput_tickets_per_s": run.tickets / run.wall_s if run.wall_s else None,
                "wall_s": run.wall_s,
            },
            indent=2,
        )
        + "\n"
    )


def report_costs(report: Report, local: dict[str, Any]) -> dict[str, float]:
    recorder: AwsCallRecorder = local["recorder"]
    batched, single = local["runs"]
    answered, breached, _ = local["sla"]
    memory = local["memory_mb"]
    report.heading("(c) List-price cost per 1,000 tickets")
    for run in (batched, single):
        report.emit(
            f"Lambda durations, run {run.name}: webhook median {median(run.webhook_ms):.1f} ms "
            f"(mean billed {mean([math.ceil(x) for x in run.webhook_ms]):.1f} ms, {memory['webhook']} MB), "
            f"ingest median {median(run.ingest_ms):.1f} ms per batch of "
            f"{mean(run.ingest_records):.1f} (mean billed {mean([math.ceil(x) for x in run.ingest_ms]):.1f} "
            f"ms, {memory['ingest']} MB), intake task median {median(run.intake_ms):.1f} ms "
            f"({len(run.intake_ms) / run.tickets:.1f} per ticket, {memory['intake']} MB), intake Express "
            f"execution median {median(run.intake_executions_ms):.0f} ms."
        )
    report.emit()
    report.emit(
        "These are warm wall times against the local stack, as the brief asks. They are not AWS's: moto's "
        "TransactWriteItems alone takes over 100 ms locally (see the latency column above), while the "
        "client-side CPU runs on a full core here but on a fraction of one in Lambda. The sensitivities "
        "below model AWS durations instead; Lambda stays a small line either way."
    )
    report.emit()
    lines = {run.name: cost_lines(run, recorder.calls, memory, answered, breached) for run in (batched, single)}
    _save_figures(batched, lines[batched.name], recorder.calls)
    rows = []
    for a, b in zip(lines[batched.name], lines[single.name], strict=True):
        rows.append(
            [
                a.service,
                a.what if a.what == b.what else a.what.split(":")[0],
                f"{a.units:.3f} {a.unit_name}",
                usd(a.usd_per_1000),
                f"{b.units:.3f} {b.unit_name}",
                usd(b.usd_per_1000),
            ]
        )
    totals = {name: sum(line.usd_per_1000 for line in ls) for name, ls in lines.items()}
    rows.append(["**total**", "", "", f"**{usd(totals[batched.name])}**", "", f"**{usd(totals[single.name])}**"])
    report.table(
        [
            "service",
            "what is billed",
            "per ticket (batched)",
            "$ / 1,000 (batched)",
            "per ticket (one-by-one)",
            "$ / 1,000 (one-by-one)",
        ],
        rows,
        align="llrrrr",
    )
    worst = max(totals.values())
    report.emit(
        f"**Target: ≤ ${TARGET_COST_PER_1000:.2f} per 1,000 tickets including SLA timers: "
        f"{usd(totals[batched.name])} batched, {usd(totals[single.name])} one-by-one → "
        f"{verdict(worst <= TARGET_COST_PER_1000)}.**"
    )
    report.emit()
    sfn_share = {
        name: sum(line.usd_per_1000 for line in ls if line.service == "Step Functions") / totals[name]
        for name, ls in lines.items()
    }
    report.emit(
        f"Step Functions is {sfn_share[batched.name]:.0%} (batched) / {sfn_share[single.name]:.0%} "
        "(one-by-one) of the total."
    )
    report.emit()

    parts = {run.name: workflow_costs(run, recorder.calls, memory, answered, breached) for run in (batched, single)}
    report.emit("The intake workflow and the SLA timers alone (already in the totals above):")
    report.emit()
    rows = [[what, usd(parts[batched.name][what]), usd(parts[single.name][what])] for what in parts[batched.name]]
    together = {name: sum(values.values()) for name, values in parts.items()}
    rows.append(["**intake + SLA timers**", f"**{usd(together[batched.name])}**", f"**{usd(together[single.name])}**"])
    report.table(["part", "$ / 1,000 (batched)", "$ / 1,000 (one-by-one)"], rows, align="lrr")
    report.emit(
        f"**Intake + SLA timers together: {usd(together[batched.name])} (batched) / "
        f"{usd(together[single.name])} (one-by-one) per 1,000 tickets**, "
        f"{together[batched.name] / totals[batched.name]:.0%} / "
        f"{together[single.name] / totals[single.name]:.0%} of the totals."
    )
    report.emit()

    report.emit("Sensitivities:")
    report.emit()
    start_extra = 1000 * SFN_STANDARD_TRANSITION
    report.emit(
        f"- If the execution start were billed as one more transition: +{usd(start_extra)} per 1,000 → "
        f"{usd(totals[batched.name] + start_extra)} / {usd(totals[single.name] + start_extra)}."
    )
    modelled = {run.name: modelled_durations(run, recorder.calls, memory) for run in (batched, single)}
    model_totals = {
        name: sum(
            line.usd_per_1000 for line in cost_lines(run, recorder.calls, memory, answered, breached, modelled[name])
        )
        for name, run in ((batched.name, batched), (single.name, single))
    }
    model_parts = {
        run.name: sum(workflow_costs(run, recorder.calls, memory, answered, breached, modelled[run.name]).values())
        for run in (batched, single)
    }
    assumed = ", ".join(f"{k} {v:.0f}" for k, v in ASSUMED_AWS_LATENCY_MS.items())
    report.emit(
        f"- Lambda durations modelled for AWS instead of measured against moto (each invocation's own CPU "
        f"× {LAMBDA_MB_PER_VCPU} MB / memory, plus assumed call latencies in ms: {assumed}): webhook "
        f"{mean(modelled[batched.name]['webhook']):.0f} ms, ingest "
        f"{mean(modelled[batched.name]['ingest']):.0f} ms per batch of {batched.batch_size} / "
        f"{mean(modelled[single.name]['ingest']):.0f} ms per batch of 1, intake task "
        f"{mean(modelled[batched.name]['intake']):.0f} ms, intake Express execution "
        f"{mean(modelled[batched.name]['express']):.0f} ms (its tasks + {ASSUMED_TASK_OVERHEAD_MS:.0f} ms "
        f"each + the ArmTimer call) → totals {usd(model_totals[batched.name])} / "
        f"{usd(model_totals[single.name])}; intake + SLA timers {usd(model_parts[batched.name])} / "
        f"{usd(model_parts[single.name])}."
    )
    slow = {
        run.name: sum(
            line.usd_per_1000
            for line in cost_lines(
                run,
                recorder.calls,
                memory,
                answered,
                breached,
                {k: [10 * ms for ms in v] for k, v in measured_durations(run).items()},
            )
        )
        for run in (batched, single)
    }
    report.emit(
        f"- At 10× the measured Lambda and Express durations the totals are {usd(slow[batched.name])} / "
        f"{usd(slow[single.name])}."
    )
    stale = {
        run.name: timer_units(run, answered, breached).transitions
        - run.tickets * ((1 - SLA_BREACH_SHARE) * answered.transitions + SLA_BREACH_SHARE * breached.transitions)
        for run in (batched, single)
    }
    report.emit(
        f"- Superseded timers (the ingest consumer's timer, replaced when the intake moves the deadline): "
        f"{usd(stale[batched.name] / batched.tickets * 1000 * SFN_STANDARD_TRANSITION)} / "
        f"{usd(stale[single.name] / single.tickets * 1000 * SFN_STANDARD_TRANSITION)} per 1,000 in "
        "transitions alone."
    )
    more_breaches = 1000 * (0.10 - SLA_BREACH_SHARE) * (breached.transitions - answered.transitions)
    report.emit(
        f"- Breach share 10 % instead of {SLA_BREACH_SHARE:.0%}: Step Functions "
        f"+{usd(more_breaches * SFN_STANDARD_TRANSITION)} per 1,000."
    )
    report.emit()

    extras = {run.name: extra_lines(run) for run in (batched, single)}
    report.emit("Not in the brief's list (and not in the total above), shown for completeness:")
    report.emit()
    rows = []
    for a, b in zip(extras[batched.name], extras[single.name], strict=True):
        rows.append(
            [
                a.service,
                a.what,
                f"{a.units:.{0 if a.units > 100 else 2}f} {a.unit_name}",
                usd(a.usd_per_1000),
                f"{b.units:.{0 if b.units > 100 else 2}f} {b.unit_name}",
                usd(b.usd_per_1000),
            ]
        )
    report.table(
        [
            "service",
            "what is billed",
            "per ticket (batched)",
            "$ / 1,000 (batched)",
            "per ticket (one-by-one)",
            "$ / 1,000 (one-by-one)",
        ],
        rows,
        align="llrrrr",
    )
    with_extras = {name: totals[name] + sum(line.usd_per_1000 for line in extras[name]) for name in totals}
    report.emit(
        f"Total including these: {usd(with_extras[batched.name])} batched, "
        f"{usd(with_extras[single.name])} one-by-one per 1,000 tickets."
    )
    report.emit()

    stored_ddb = (
        sum(
            w.size + ITEM_STORAGE_OVERHEAD + w.gsi_bytes
            for c in recorder.calls
            if c.run == batched.name
            for w in c.written
            if w.how != "UpdateItem"
        )
        / batched.tickets
    )
    stored_s3 = mean([c.payload_bytes for c in recorder.calls if c.run == batched.name and c.service == "s3"])
    ddb_month = stored_ddb * 1000 / GB * DYNAMODB_STORAGE_GB_MONTH
    report.emit(
        f"Storage, per 1,000 tickets kept for a month (not in the totals): DynamoDB {stored_ddb:.0f} B per "
        f"ticket incl. GSI entries and 100 B/item overhead → {usd(ddb_month)}; S3 {stored_s3:.0f} B per raw "
        f"payload → {usd(stored_s3 * 1000 / GB * S3_STORAGE_GB_MONTH)}. Fixed "
        "monthly costs independent of volume are not included either: Secrets Manager $0.40 per secret, "
        "CloudWatch custom metrics from the EMF output ($0.30 per metric), the SQS event source's idle "
        "long polling."
    )
    return totals


def environment_line() -> str:
    from importlib import metadata

    versions = []
    for package in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        or "unknown"
    )
    return (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {', '.join(versions)}; commit {commit} (plus any uncommitted changes)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stub-worker", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--canned-server", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stub_worker:
        stub_worker(Path(args.stub_worker))
        return 0
    if args.canned_server:
        canned_server(Path(args.canned_server))
        return 0

    started = time.perf_counter()
    report = Report()
    report.emit("# Foundation benchmark")
    report.emit()
    report.emit(environment_line())
    env = lambda_env()
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as tmp:
        tmpdir = Path(tmp)
        progress(f"(a) import times: {len(IMPORT_TARGETS) + 1} targets × {IMPORT_RUNS + 1} fresh interpreters")
        imports = measure_imports(env, tmpdir)
        report_imports(report, imports)
        progress(f"(b) webhook CPU without moto: 3 × {STUB_REQUESTS} requests in a fresh process")
        spec = tmpdir / "stub.json"
        spec.write_text(json.dumps({"canned": canned_http_responses(), "out": str(tmpdir / "stub-out.json")}))
        run_python(["-m", "bench.run", "--stub-worker", str(spec)], env)
        stub = json.loads((tmpdir / "stub-out.json").read_text())
    local = run_local_stack()
    report_cpu(report, stub, local)
    report_requests(report, local)
    report_costs(report, local)
    report.emit()
    progress("(d) language detection on the labelled set")
    from bench import language_report

    for line in language_report.lines(language_report.measure()):
        report.emit(line)
    report.emit()
    report.emit(f"Benchmark wall time: {time.perf_counter() - started:.0f} s.")
    report.write(RESULTS_FILE)
    progress(f"written {RESULTS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

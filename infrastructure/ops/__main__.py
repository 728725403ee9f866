"""Operator commands (nothing lost): replay kept raw payloads, move dead letters back.

    python -m infrastructure.ops replay --stack helpdesk-prod --tenant T --store S --since 2026-11-20T00:00Z
    python -m infrastructure.ops redrive --stack helpdesk-prod [--max 1000]

Resources come from the CloudFormation stack's outputs (``--stack``) or are named one by one
(``--table``, ``--bucket``, ``--queue-url``, ``--dlq-url``). ``AWS_ENDPOINT_URL`` points the commands
at the local stack (``make run`` prints it). See README "Operations".
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

import boto3


def _outputs(stack: str) -> dict[str, str]:
    answer = boto3.client("cloudformation").describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in answer["Stacks"][0].get("Outputs", [])}


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _resources(args: argparse.Namespace) -> dict[str, str]:
    found = _outputs(args.stack) if args.stack else {}
    named = {
        "HelpdeskTableName": args.table,
        "RawPayloadBucketName": args.bucket,
        "InboundQueueUrl": args.queue_url,
        "InboundDeadLetterQueueUrl": args.dlq_url,
    }
    found.update({k: v for k, v in named.items() if v})
    return found


def _need(resources: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not resources.get(n)]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: give --stack or name them (see --help)")
    return [resources[n] for n in names]


def replay(args: argparse.Namespace) -> dict[str, Any]:
    from helpdesk.adapters.aws import S3RawArchive, SqsEnvelopePublisher
    from helpdesk.adapters.dynamodb import DynamoRepository
    from helpdesk.ingest.replay import ReplayService

    table, bucket, queue = _need(_resources(args), "HelpdeskTableName", "RawPayloadBucketName", "InboundQueueUrl")
    service = ReplayService(
        DynamoRepository(boto3.client("dynamodb"), table),
        S3RawArchive(boto3.client("s3"), bucket),
        SqsEnvelopePublisher(boto3.client("sqs"), queue),
    )
    until = _when(args.until) if args.until else datetime.now(UTC)
    return service.replay(args.tenant, args.store, _when(args.since), until).as_dict()


def redrive(args: argparse.Namespace) -> dict[str, Any]:
    from helpdesk.adapters.aws import SqsDeadLetters
    from helpdesk.ingest.replay import redrive as move_back

    queue, dlq = _need(_resources(args), "InboundQueueUrl", "InboundDeadLetterQueueUrl")
    moved = move_back(
        SqsDeadLetters(boto3.client("sqs"), dlq, queue),
        maximum=args.max,
        progress=lambda n: print(f"moved {n}", file=sys.stderr),
    )
    return {"moved": moved}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run in (("replay", replay), ("redrive", redrive)):
        command = commands.add_parser(name)
        command.set_defaults(run=run)
        command.add_argument("--stack", help="CloudFormation stack name (resources from its outputs)")
        command.add_argument("--table")
        command.add_argument("--bucket")
        command.add_argument("--queue-url")
        command.add_argument("--dlq-url")
        if name == "replay":
            command.add_argument("--tenant", required=True)
            command.add_argument("--store", required=True)
            command.add_argument("--since", required=True, help="ISO-8601 start of the window (UTC if no offset)")
            command.add_argument("--until", help="ISO-8601 end of the window (default: now)")
        else:
            command.add_argument("--max", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(json.dumps(args.run(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

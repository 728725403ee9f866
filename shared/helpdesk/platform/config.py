"""Settings from the environment (template.yaml sets them), validated once per cold start, and the
cached boto3 clients every function shares."""

from __future__ import annotations

import os
from functools import cache, lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str
    raw_bucket: str = ""
    inbound_queue_url: str = ""
    sla_state_machine_arn: str = ""
    intake_state_machine_arn: str = ""
    idempotency_table: str = ""
    poll_tenant_ids: tuple[str, ...] = ()
    poller_function_arn: str = ""
    aging_function_arn: str = ""
    poll_scheduler_role_arn: str = ""
    poll_rate_minutes: int = 2
    public_api_url: str = ""
    inbound_mail_domain: str = ""
    outbound_queue_url: str = ""
    dispatch_max_receives: int = 5
    translator: str = "none"  # amazon (Amazon Translate) | none (nothing translated, and said so)
    drafter: str = "local"  # bedrock (Converse) | local (deterministic, offline)
    bedrock_model_id: str = ""
    csat_secret_arn: str = ""
    api_url: str = ""  # the HTTP API's own URL (links in messages when there is no custom domain)


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    return Settings(
        table_name=env["TABLE_NAME"],
        raw_bucket=env.get("RAW_BUCKET", ""),
        inbound_queue_url=env.get("INBOUND_QUEUE_URL", ""),
        sla_state_machine_arn=env.get("SLA_STATE_MACHINE_ARN", ""),
        intake_state_machine_arn=env.get("INTAKE_STATE_MACHINE_ARN", ""),
        idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
        poll_tenant_ids=tuple(t.strip() for t in env.get("POLL_TENANT_IDS", "").split(",") if t.strip()),
        poller_function_arn=env.get("POLLER_FUNCTION_ARN", ""),
        aging_function_arn=env.get("AGING_FUNCTION_ARN", ""),
        poll_scheduler_role_arn=env.get("POLL_SCHEDULER_ROLE_ARN", ""),
        poll_rate_minutes=int(env.get("POLL_RATE_MINUTES", "2")),
        public_api_url=env.get("PUBLIC_API_URL", ""),
        inbound_mail_domain=env.get("INBOUND_MAIL_DOMAIN", ""),
        outbound_queue_url=env.get("OUTBOUND_QUEUE_URL", ""),
        dispatch_max_receives=int(env.get("DISPATCH_MAX_RECEIVES", "5")),
        translator=env.get("TRANSLATOR", "none"),
        drafter=env.get("DRAFTER", "local"),
        bedrock_model_id=env.get("BEDROCK_MODEL_ID", ""),
        csat_secret_arn=env.get("CSAT_SECRET_ARN", ""),
        api_url=env.get("API_URL", ""),
    )


@cache
def client(service: str) -> Any:
    """One boto3 client per service and process. AWS_ENDPOINT_URL (set by the local stack) points
    every client at moto; in Lambda it is unset and clients reach AWS."""
    import boto3

    return boto3.session.Session().client(service)


@cache
def secret_bytes(secret_id: str) -> bytes:
    """A secret's value, read once per process (the CSAT signing key)."""
    return client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"].encode()


def reset() -> None:
    """Forget settings and clients (tests and the local stack switch environments)."""
    settings.cache_clear()
    client.cache_clear()
    secret_bytes.cache_clear()

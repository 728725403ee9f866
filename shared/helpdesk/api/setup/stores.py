"""Connecting stores (admins): connect, list with health, ingest errors, pause/resume, voice, credentials,
disconnect."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from helpdesk.api.setup.common import admin
from helpdesk.core.models import IngestError
from helpdesk.platform import wiring
from helpdesk.stores.connections import ConnectStore, RotateCredentials, StoreSetupService, StoreSummary, StoreVoice

router = Router()


def stores(router: Router) -> StoreSetupService:
    """The store setup service, its webhook URLs on the host this request came in on."""
    event = cast(APIGatewayProxyEventV2, router.current_event)  # the setup API is an HTTP API (payload 2.0)
    return wiring.store_setup(event.request_context.domain_name)


@router.get("/stores")
def list_stores() -> list[StoreSummary]:
    """Every store of the tenant with its health (last poll, last message, last error)."""
    return stores(router).summaries(admin(router).tenant_id)


@router.post("/stores")
def connect_store(request: ConnectStore) -> Response[StoreSummary]:
    """Connect a store: credentials proven by the channel, kept in Secrets Manager, webhooks subscribed."""
    summary = stores(router).connect(admin(router).tenant_id, request)
    return Response(status_code=201, content_type="application/json", body=summary)


@router.get("/stores/<store_id>/ingest-errors")
def list_ingest_errors(store_id: str) -> list[IngestError]:
    """Deliveries that could not be read: the reason, and where the untouched payload is kept."""
    return stores(router).ingest_errors(admin(router).tenant_id, store_id)


@router.post("/stores/<store_id>/pause")
def pause_store(store_id: str) -> StoreSummary:
    """Stop polling the store (webhook deliveries are still kept)."""
    return stores(router).pause(admin(router).tenant_id, store_id, paused=True)


@router.post("/stores/<store_id>/resume")
def resume_store(store_id: str) -> StoreSummary:
    return stores(router).pause(admin(router).tenant_id, store_id, paused=False)


@router.put("/stores/<store_id>/voice")
def set_store_voice(store_id: str, voice: StoreVoice) -> StoreSummary:
    """The store's language, greeting and signature per language (its brand voice in macros and e-mails)."""
    return stores(router).set_voice(admin(router).tenant_id, store_id, voice)


@router.put("/stores/<store_id>/credentials")
def rotate_credentials(store_id: str, request: RotateCredentials) -> StoreSummary:
    """Replace credentials (proven by the channel first); keys not given are kept."""
    return stores(router).rotate(admin(router).tenant_id, store_id, request)


@router.delete("/stores/<store_id>")
def disconnect_store(store_id: str) -> StoreSummary:
    """Remove the webhooks, delete the secret, refuse further deliveries; the store record stays."""
    return stores(router).disconnect(admin(router).tenant_id, store_id)

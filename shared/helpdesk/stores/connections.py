"""Seller setup: connecting a store, and the store's life after that. Plain Python.

Connect: the channel kind and its credentials → the credentials are proven by a real call to the
channel (``check_credentials``) → they are stored in Secrets Manager (never in DynamoDB, never
logged: ``SecretStr`` all the way) → the product's webhook URL is subscribed at the channel where it
has an API for that (Shopify, BigCommerce, WooCommerce, Walmart) → the store is saved and, when it
is polled, its tenant's poll schedule exists. A failure part-way undoes what was done (webhooks
removed, secret deleted), so a half-connected store never lingers.

Afterwards: list stores with their health, pause / resume polling, rotate credentials (proven
first; the webhook secret is kept unless a new one is given), disconnect (webhooks removed, secret
deleted, deliveries refused; the store record stays so old tickets still name their store).

E-mail stores (and the Amazon buyer-message relay) have no credentials to prove: they receive mail
at an inbound address ``<tenant>+<store>@<inbound domain>`` the seller forwards their support
mailbox to.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime

from pydantic import Field, SecretStr, field_validator

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import ChannelError, HelpdeskError, NotFound
from helpdesk.core.models import ID_PATTERN, Channel, IngestError, Model, Store, StoreHealth
from helpdesk.stores.ports import ChannelGateway, PollScheduler, SecretWriter, SetupRepository

# Channels where the product chooses the secret the channel signs / authenticates deliveries with.
OUR_WEBHOOK_SECRET = frozenset({Channel.WOOCOMMERCE, Channel.BIGCOMMERCE, Channel.WALMART})
# Channels whose deliveries are signed with a secret of the seller's app (given with the credentials).
APP_WEBHOOK_SECRET = frozenset({Channel.SHOPIFY})
MAIL_CHANNELS = frozenset({Channel.EMAIL})
# Channels whose base URL is the seller's own site or the marketplace's instance.
NEEDS_BASE_URL = frozenset({Channel.MIRAKL, Channel.WOOCOMMERCE, Channel.MAGENTO})


class CredentialsRefused(HelpdeskError):
    """The channel refused the credentials (or answered the check with an error)."""

    code = "credentials_refused"
    status = 422


# --- requests and answers -------------------------------------------------------------------------


class ConnectStore(Model):
    channel: Channel
    display_name: str = Field(min_length=1, max_length=120)
    store_id: str | None = Field(default=None, pattern=ID_PATTERN, description="Chosen when absent")
    base_url: str | None = Field(
        default=None, max_length=500, description="The shop's URL (WooCommerce, Magento) or the marketplace's (Mirakl)"
    )
    credentials: dict[str, SecretStr] = Field(
        default_factory=dict, description="The channel's API credentials (see the connector)"
    )
    default_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    brand_signature: str = Field(default="", max_length=2000)
    linked_store_ids: list[str] = Field(default_factory=list)
    sla_policy_id: str | None = None


class StoreVoice(Model):
    """How a store greets and signs off, per language (the macros' ``store.greeting`` and
    ``store.signature``; e-mail replies end with the signature in the reply's language)."""

    default_language: str = Field(pattern=r"^[a-z]{2}$", description="The store's buyers' usual language")
    greetings: dict[str, str] = Field(
        default_factory=dict, max_length=30, description='Greeting per language code: {"it": "Ciao"}'
    )
    signatures: dict[str, str] = Field(default_factory=dict, max_length=30, description="Signature per language code")
    brand_signature: str = Field(default="", max_length=2000, description="The signature for other languages")

    @field_validator("greetings", "signatures")
    @classmethod
    def _per_language(cls, values: dict[str, str]) -> dict[str, str]:
        for language, text in values.items():
            if not re.match(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", language):
                raise ValueError(f"{language!r} is not a language code (en, de, pt-BR ...)")
            if not text.strip() or len(text) > 2000:
                raise ValueError(f"the {language} text must have 1 to 2000 characters")
        return {language: text.strip() for language, text in values.items()}


class RotateCredentials(Model):
    credentials: dict[str, SecretStr] = Field(min_length=1)


class StoreSummary(Model):
    """What the seller sees of a store: its configuration (never its credentials) and health."""

    store: Store
    health: StoreHealth | None = None
    status: str = Field(description="active, paused or disconnected")
    webhook_url: str | None = None
    inbound_address: str | None = Field(default=None, description="Where to forward buyers' e-mails")


# --- ports ------------------------------------------------------------------------------------------


# --- the service ------------------------------------------------------------------------------------


class StoreSetupService:
    def __init__(
        self,
        repository: SetupRepository,
        secrets_store: SecretWriter,
        channels: ChannelGateway,
        scheduler: PollScheduler,
        *,
        webhook_base_url: str,
        inbound_domain: str,
        clock: Callable[[], datetime] = utc_now,
        new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self._repo = repository
        self._secrets = secrets_store
        self._channels = channels
        self._scheduler = scheduler
        self._webhook_base = webhook_base_url.rstrip("/")
        self._inbound_domain = inbound_domain
        self._clock = clock
        self._new_secret = new_secret

    # --- connect ------------------------------------------------------------------------------

    def connect(self, tenant_id: str, request: ConnectStore) -> StoreSummary:
        channel = request.channel
        credentials = {k: v.get_secret_value() for k, v in request.credentials.items()}
        if channel in NEEDS_BASE_URL and not request.base_url:
            raise ValueError(f"a {channel.value} store needs base_url")
        for linked in request.linked_store_ids:
            if self._repo.get_store(tenant_id, linked) is None:
                raise NotFound("linked store not found", store_id=linked)
        if channel not in MAIL_CHANNELS and not self._channels.has_api(channel):
            raise ValueError(f"connecting {channel.value} stores is not supported yet")
        store_id = request.store_id or _store_id(request.display_name)
        if self._repo.get_store(tenant_id, store_id) is not None:
            raise ValueError(f"store id {store_id!r} is taken")
        base_url = request.base_url
        if channel == Channel.SHOPIFY:
            base_url = _shopify_base_url(base_url, credentials)
        store = Store(
            tenant_id=tenant_id,
            store_id=store_id,
            channel=channel,
            display_name=request.display_name,
            default_language=request.default_language,
            brand_signature=request.brand_signature,
            base_url=base_url,
            linked_store_ids=request.linked_store_ids,
            sla_policy_id=request.sla_policy_id,
            created_at=self._clock(),
        )
        if channel in MAIL_CHANNELS:
            self._repo.create_store(store)
            self._scheduler.ensure_tenant_schedule(tenant_id)
            return self._summary(store, None)

        if channel in OUR_WEBHOOK_SECRET and not credentials.get("webhook_secret"):
            credentials["webhook_secret"] = self._new_secret()
        if channel == Channel.TIKTOK and credentials.get("app_key") and credentials.get("app_secret"):
            # TikTok signs deliveries with the app key and secret together (see channels/tiktok/signing.py).
            from helpdesk.channels.tiktok import webhook_secret

            credentials["webhook_secret"] = webhook_secret(credentials["app_key"], credentials["app_secret"])
        if channel in APP_WEBHOOK_SECRET and not credentials.get("webhook_secret"):
            raise ValueError(f"a {channel.value} store needs credentials.webhook_secret (the app's client secret)")
        store.account_label = self._check(store, credentials)
        store.secret_name = secret_name(tenant_id, store_id)
        self._secrets.create(store.secret_name, credentials)
        try:
            if self._channels.registers_webhooks(channel):
                store.webhook_ids = self._channels.register(
                    store, credentials, self.webhook_url(store), credentials.get("webhook_secret", "")
                )
            self._repo.create_store(store)
            if channel == Channel.AMAZON and credentials.get("seller_id"):
                self._repo.put_channel_route(channel.value, credentials["seller_id"], tenant_id, store_id)
            # Every tenant's schedules (polling, aging rules) exist once it has a store.
            self._scheduler.ensure_tenant_schedule(tenant_id)
        except BaseException:
            self._undo(store, credentials)
            raise
        return self._summary(store, None)

    def _undo(self, store: Store, credentials: Mapping[str, str]) -> None:
        if store.webhook_ids:
            try:
                self._channels.remove(store, credentials, store.webhook_ids)
            except HelpdeskError:
                pass  # best effort: the subscription fails on the channel's side without our secret
        if store.secret_name:
            self._secrets.delete(store.secret_name)

    def _check(self, store: Store, credentials: Mapping[str, str]) -> str:
        try:
            return self._channels.check(store, credentials)
        except ChannelError as exc:
            status = exc.details.get("status")
            if isinstance(status, int) and 400 <= status < 500:
                raise CredentialsRefused(
                    f"{store.channel.value} refused the credentials: {exc.message}",
                    channel=store.channel.value,
                    status=status,
                ) from None
            raise

    # --- life after connecting ---------------------------------------------------------------

    def summaries(self, tenant_id: str) -> list[StoreSummary]:
        health = {h.store_id: h for h in self._repo.list_health(tenant_id)}
        stores = sorted(
            self._repo.list_stores(tenant_id), key=lambda s: (s.disconnected_at is not None, s.display_name.lower())
        )
        return [self._summary(s, health.get(s.store_id)) for s in stores]

    def ingest_errors(self, tenant_id: str, store_id: str) -> list[IngestError]:
        """Deliveries of the store that could not be read (newest first; the payloads are kept)."""
        if self._repo.get_store(tenant_id, store_id) is None:
            raise NotFound("store not found", store_id=store_id)
        return self._repo.list_ingest_errors(tenant_id, store_id)

    def pause(self, tenant_id: str, store_id: str, paused: bool = True) -> StoreSummary:
        store = self._live_store(tenant_id, store_id)
        store.active = not paused
        self._repo.put_store(store)
        if not paused and self._channels.is_polled(store.channel):
            self._scheduler.ensure_tenant_schedule(tenant_id)
        return self._summary(store, None)

    def set_voice(self, tenant_id: str, store_id: str, voice: StoreVoice) -> StoreSummary:
        store = self._live_store(tenant_id, store_id)
        store.default_language = voice.default_language
        store.greetings = dict(voice.greetings)
        store.signatures = dict(voice.signatures)
        store.brand_signature = voice.brand_signature
        self._repo.put_store(store)
        return self._summary(store, None)

    def rotate(self, tenant_id: str, store_id: str, request: RotateCredentials) -> StoreSummary:
        store = self._live_store(tenant_id, store_id)
        if store.channel in MAIL_CHANNELS or not store.secret_name:
            raise ValueError("this store has no credentials to rotate")
        current = self._secrets.read(store.secret_name)
        new = {k: v.get_secret_value() for k, v in request.credentials.items()}
        merged = {**current, **new}
        store.account_label = self._check(store, merged)
        self._secrets.replace(store.secret_name, merged)
        self._repo.put_store(store)
        return self._summary(store, None)

    def disconnect(self, tenant_id: str, store_id: str) -> StoreSummary:
        store = self._live_store(tenant_id, store_id)
        if store.secret_name:
            if store.webhook_ids:
                credentials = self._secrets.read(store.secret_name)
                self._channels.remove(store, credentials, store.webhook_ids)
            self._secrets.delete(store.secret_name)
        store.webhook_ids = []
        store.secret_name = None
        store.active = False
        store.disconnected_at = self._clock()
        self._repo.put_store(store)
        return self._summary(store, None)

    # --- helpers -----------------------------------------------------------------------------

    def webhook_url(self, store: Store) -> str:
        return f"{self._webhook_base}/webhooks/{store.tenant_id}/{store.channel.value}/{store.store_id}"

    def inbound_address(self, store: Store) -> str:
        return f"{store.tenant_id}+{store.store_id}@{self._inbound_domain}"

    def _live_store(self, tenant_id: str, store_id: str) -> Store:
        store = self._repo.get_store(tenant_id, store_id)
        if store is None or store.disconnected_at is not None:
            raise NotFound("store not found", store_id=store_id)
        return store

    def _summary(self, store: Store, health: StoreHealth | None) -> StoreSummary:
        status = "disconnected" if store.disconnected_at else ("active" if store.active else "paused")
        live = store.disconnected_at is None
        return StoreSummary(
            store=store,
            health=health,
            status=status,
            webhook_url=self.webhook_url(store) if live and self._channels.registers_webhooks(store.channel) else None,
            inbound_address=self.inbound_address(store) if live and store.channel in MAIL_CHANNELS else None,
        )


def secret_name(tenant_id: str, store_id: str) -> str:
    return f"helpdesk/{tenant_id}/{store_id}"


def parse_inbound_address(address: str) -> tuple[str, str] | None:
    """(tenant, store) from ``<tenant>+<store>@domain``; None for any other address."""
    local = address.strip().split("@", 1)[0]
    tenant, sep, store = local.partition("+")
    if not sep or not re.fullmatch(ID_PATTERN, tenant) or not re.fullmatch(ID_PATTERN, store):
        return None
    return tenant, store


def _store_id(display_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:40] or "store"
    return f"{slug}-{secrets.token_hex(3)}"


def _shopify_base_url(base_url: str | None, credentials: Mapping[str, str]) -> str | None:
    """Without a base URL, a Shopify store is recorded with the myshopify.com address of
    ``credentials['shop_domain']``: webhooks are checked against it (channels/shopify.py)."""
    from helpdesk.channels.shopify import shop_host

    if base_url:
        return base_url
    host = shop_host(credentials.get("shop_domain"))
    return f"https://{host}" if host else base_url

"""Seller setup: connect (proven, secret stored, webhooks subscribed, polling scheduled, undone on
failure), list with health, pause/resume, rotate, disconnect — with fake ports, no AWS or HTTP."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pydantic import SecretStr

from helpdesk.core.errors import ChannelError, NotFound
from helpdesk.core.models import Channel, Store, StoreHealth
from helpdesk.stores.connections import (
    ConnectStore,
    CredentialsRefused,
    RotateCredentials,
    StoreSetupService,
    parse_inbound_address,
)
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, TENANT


class FakeSecrets:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, str]] = {}
        self.deleted: list[str] = []

    def create(self, name: str, value: Mapping[str, str]) -> None:
        self.values[name] = dict(value)

    def read(self, name: str) -> dict[str, str]:
        return dict(self.values[name])

    def replace(self, name: str, value: Mapping[str, str]) -> None:
        assert name in self.values
        self.values[name] = dict(value)

    def delete(self, name: str) -> None:
        self.values.pop(name, None)
        self.deleted.append(name)


class FakeChannels:
    def __init__(self) -> None:
        self.refuse: ChannelError | None = None
        self.fail_register: ChannelError | None = None
        self.checked: list[dict[str, str]] = []
        self.registered: list[tuple[str, str]] = []
        self.removed: list[list[str]] = []

    def has_api(self, channel: Channel) -> bool:
        return channel in (Channel.WOOCOMMERCE, Channel.SHOPIFY, Channel.MIRAKL, Channel.AMAZON)

    def registers_webhooks(self, channel: Channel) -> bool:
        return channel in (Channel.WOOCOMMERCE, Channel.SHOPIFY)

    def is_polled(self, channel: Channel) -> bool:
        return channel == Channel.MIRAKL

    def check(self, store: Store, credentials: Mapping[str, str]) -> str:
        self.checked.append(dict(credentials))
        if self.refuse:
            raise self.refuse
        return f"{store.display_name} account"

    def register(self, store: Store, credentials: Mapping[str, str], url: str, secret: str) -> list[str]:
        if self.fail_register:
            raise self.fail_register
        self.registered.append((url, secret))
        return ["hook-1", "hook-2"]

    def remove(self, store: Store, credentials: Mapping[str, str], webhook_ids: list[str]) -> None:
        self.removed.append(list(webhook_ids))


class FakeScheduler:
    def __init__(self) -> None:
        self.tenants: list[str] = []

    def ensure_tenant_schedule(self, tenant_id: str) -> None:
        self.tenants.append(tenant_id)


@pytest.fixture
def parts() -> tuple[InMemoryRepository, FakeSecrets, FakeChannels, FakeScheduler]:
    return InMemoryRepository(), FakeSecrets(), FakeChannels(), FakeScheduler()


@pytest.fixture
def setup(parts) -> StoreSetupService:
    repo, secrets, channels, scheduler = parts
    return StoreSetupService(
        repo,
        secrets,
        channels,
        scheduler,
        webhook_base_url="https://api.example.com/",
        inbound_domain="in.example.com",
        clock=lambda: NOW,
        new_secret=lambda: "generated-secret",
    )


def woo(**overrides) -> ConnectStore:
    fields = dict(
        channel=Channel.WOOCOMMERCE,
        display_name="Coffee Shop",
        base_url="https://shop.example",
        credentials={"consumer_key": SecretStr("ck_1"), "consumer_secret": SecretStr("cs_1")},
    )
    return ConnectStore(**{**fields, **overrides})


def test_connect_proves_credentials_stores_the_secret_and_subscribes_webhooks(setup, parts) -> None:
    repo, secrets, channels, scheduler = parts
    summary = setup.connect(TENANT, woo(store_id="coffee"))
    store = repo.stores[(TENANT, "coffee")]
    assert store.secret_name == "helpdesk/t1/coffee" and store.webhook_ids == ["hook-1", "hook-2"]
    assert store.account_label == "Coffee Shop account"
    assert secrets.values["helpdesk/t1/coffee"] == {
        "consumer_key": "ck_1",
        "consumer_secret": "cs_1",
        "webhook_secret": "generated-secret",
    }
    assert channels.registered == [("https://api.example.com/webhooks/t1/woocommerce/coffee", "generated-secret")]
    assert summary.status == "active" and summary.webhook_url.endswith("/webhooks/t1/woocommerce/coffee")
    assert scheduler.tenants == [TENANT]  # the tenant's schedules (polling, aging rules) exist
    # Credentials are nowhere in the stored store record.
    assert "ck_1" not in store.model_dump_json() and "cs_1" not in summary.model_dump_json()


def test_credentials_never_show_in_the_request_model_repr() -> None:
    assert "cs_1" not in repr(woo()) and "cs_1" not in str(woo().model_dump())


def test_refused_credentials_store_nothing(setup, parts) -> None:
    repo, secrets, channels, _ = parts
    channels.refuse = ChannelError("woocommerce: Consumer key is invalid.", channel="woocommerce", status=401)
    with pytest.raises(CredentialsRefused, match="Consumer key is invalid") as refused:
        setup.connect(TENANT, woo(store_id="coffee"))
    assert refused.value.status == 422
    assert repo.stores == {} and secrets.values == {}


def test_a_channel_outage_during_the_check_is_not_called_refused(setup, parts) -> None:
    parts[2].refuse = ChannelError("woocommerce answered HTTP 503", channel="woocommerce", status=503)
    with pytest.raises(ChannelError) as failed:
        setup.connect(TENANT, woo())
    assert not isinstance(failed.value, CredentialsRefused)


def test_a_failed_webhook_registration_undoes_the_secret(setup, parts) -> None:
    repo, secrets, channels, _ = parts
    channels.fail_register = ChannelError("woocommerce answered HTTP 500", channel="woocommerce", status=500)
    with pytest.raises(ChannelError):
        setup.connect(TENANT, woo(store_id="coffee"))
    assert repo.stores == {} and secrets.values == {} and secrets.deleted == ["helpdesk/t1/coffee"]


def test_a_polled_store_gets_its_tenant_schedule(setup, parts) -> None:
    _, _, _, scheduler = parts
    setup.connect(
        TENANT,
        ConnectStore(
            channel=Channel.MIRAKL,
            display_name="Marketplace FR",
            base_url="https://mp-fr.mirakl.net",
            credentials={"api_key": SecretStr("k")},
        ),
    )
    assert scheduler.tenants == [TENANT]


def test_shopify_needs_the_apps_client_secret(setup) -> None:
    with pytest.raises(ValueError, match="webhook_secret"):
        setup.connect(
            TENANT,
            ConnectStore(
                channel=Channel.SHOPIFY, display_name="Shop", credentials={"access_token": SecretStr("shpat_1")}
            ),
        )


@pytest.mark.parametrize(
    ("base_url", "shop_domain", "recorded"),
    [
        (None, "jsmith.myshopify.com", "https://jsmith.myshopify.com"),
        (None, "https://JSmith.myshopify.com/admin", "https://jsmith.myshopify.com"),
        ("https://www.jsmith-coffee.example", "jsmith.myshopify.com", "https://www.jsmith-coffee.example"),
        (None, "www.jsmith-coffee.example", None),
    ],
)
def test_a_shopify_store_is_recorded_with_its_myshopify_address(
    setup,
    parts,
    base_url: str | None,
    shop_domain: str,
    recorded: str | None,
) -> None:
    # The address its webhooks are checked against (X-Shopify-Shop-Domain, channels/shopify.py).
    repo = parts[0]
    summary = setup.connect(
        TENANT,
        ConnectStore(
            channel=Channel.SHOPIFY,
            display_name="Shop",
            base_url=base_url,
            credentials={
                "access_token": SecretStr("shpat_1"),
                "webhook_secret": SecretStr("s"),
                "shop_domain": SecretStr(shop_domain),
            },
        ),
    )
    assert summary.store.base_url == recorded
    assert repo.get_store(TENANT, summary.store.store_id).base_url == recorded


def test_missing_base_url_and_unknown_links_are_refused(setup) -> None:
    with pytest.raises(ValueError, match="base_url"):
        setup.connect(TENANT, woo(base_url=None))
    with pytest.raises(NotFound):
        setup.connect(TENANT, ConnectStore(channel=Channel.EMAIL, display_name="Support", linked_store_ids=["nope"]))


def test_taken_store_id_is_refused(setup) -> None:
    setup.connect(TENANT, woo(store_id="coffee"))
    with pytest.raises(ValueError, match="taken"):
        setup.connect(TENANT, woo(store_id="coffee"))


def test_email_store_gets_an_inbound_address_and_no_secret(setup, parts) -> None:
    repo, secrets, _, _ = parts
    shop = setup.connect(TENANT, woo(store_id="coffee"))
    summary = setup.connect(
        TENANT,
        ConnectStore(
            channel=Channel.EMAIL,
            display_name="Support mailbox",
            store_id="support",
            linked_store_ids=[shop.store.store_id],
        ),
    )
    assert summary.inbound_address == "t1+support@in.example.com"
    assert parse_inbound_address(summary.inbound_address) == (TENANT, "support")
    assert repo.stores[(TENANT, "support")].linked_store_ids == ["coffee"]
    assert "helpdesk/t1/support" not in secrets.values


def test_list_shows_health_and_status(setup, parts) -> None:
    repo = parts[0]
    setup.connect(TENANT, woo(store_id="coffee", display_name="B shop"))
    setup.connect(TENANT, woo(store_id="tea", display_name="A shop"))
    repo.health[(TENANT, "coffee")] = StoreHealth(
        tenant_id=TENANT, store_id="coffee", last_error="HTTP 500", consecutive_failures=2, last_poll_at=NOW
    )
    setup.pause(TENANT, "tea")
    listed = setup.summaries(TENANT)
    assert [(s.store.store_id, s.status) for s in listed] == [("tea", "paused"), ("coffee", "active")]
    assert listed[1].health is not None and listed[1].health.last_error == "HTTP 500"
    assert setup.summaries("another-tenant") == []


def test_resume_of_a_polled_store_ensures_the_schedule(setup, parts) -> None:
    _, _, _, scheduler = parts
    setup.connect(
        TENANT,
        ConnectStore(
            channel=Channel.MIRAKL,
            display_name="MP",
            store_id="mp",
            base_url="https://mp.example",
            credentials={"api_key": SecretStr("k")},
        ),
    )
    setup.pause(TENANT, "mp")
    assert setup.pause(TENANT, "mp", paused=False).status == "active"
    assert scheduler.tenants == [TENANT, TENANT]


def test_rotate_proves_the_new_credentials_and_keeps_the_webhook_secret(setup, parts) -> None:
    _, secrets, channels, _ = parts
    setup.connect(TENANT, woo(store_id="coffee"))
    setup.rotate(TENANT, "coffee", RotateCredentials(credentials={"consumer_secret": SecretStr("cs_2")}))
    assert secrets.values["helpdesk/t1/coffee"] == {
        "consumer_key": "ck_1",
        "consumer_secret": "cs_2",
        "webhook_secret": "generated-secret",
    }
    assert channels.checked[-1]["consumer_secret"] == "cs_2"


def test_rotate_with_refused_credentials_keeps_the_old_ones(setup, parts) -> None:
    _, secrets, channels, _ = parts
    setup.connect(TENANT, woo(store_id="coffee"))
    channels.refuse = ChannelError("invalid", channel="woocommerce", status=401)
    with pytest.raises(CredentialsRefused):
        setup.rotate(TENANT, "coffee", RotateCredentials(credentials={"consumer_secret": SecretStr("bad")}))
    assert secrets.values["helpdesk/t1/coffee"]["consumer_secret"] == "cs_1"


def test_disconnect_removes_webhooks_deletes_the_secret_and_keeps_the_record(setup, parts) -> None:
    repo, secrets, channels, _ = parts
    setup.connect(TENANT, woo(store_id="coffee"))
    summary = setup.disconnect(TENANT, "coffee")
    assert channels.removed == [["hook-1", "hook-2"]]
    assert secrets.values == {} and secrets.deleted == ["helpdesk/t1/coffee"]
    store = repo.stores[(TENANT, "coffee")]
    assert summary.status == "disconnected" and store.disconnected_at == NOW and not store.active
    assert store.secret_name is None and summary.webhook_url is None
    with pytest.raises(NotFound):
        setup.disconnect(TENANT, "coffee")
    with pytest.raises(NotFound):
        setup.pause(TENANT, "coffee")


def test_generated_store_ids_are_slugs(setup) -> None:
    summary = setup.connect(TENANT, woo(display_name="Café & Co — Berlin!"))
    assert summary.store.store_id.startswith("caf-co-berlin-")


def test_inbound_address_parsing() -> None:
    assert parse_inbound_address("t-1+mail-1@in.example.com") == ("t-1", "mail-1")
    assert parse_inbound_address("support@in.example.com") is None
    assert parse_inbound_address("a+b c@in.example.com") is None


def test_an_amazon_store_is_routed_by_its_seller_id(setup, parts) -> None:
    repo = parts[0]
    setup.connect(
        TENANT,
        ConnectStore(
            channel=Channel.AMAZON,
            display_name="Amazon EU",
            store_id="amazon-eu",
            credentials={"seller_id": SecretStr("A3TH9S8BH6GOGM"), "refresh_token": SecretStr("Atzr|x")},
        ),
    )
    assert repo.routes[("amazon", "A3TH9S8BH6GOGM")] == (TENANT, "amazon-eu")

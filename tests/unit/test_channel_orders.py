"""adapters.channel_orders: an order fetched through the store's connector with the store's credentials;
a refresh token the channel rotates during the fetch (Etsy) is saved in the store's secret."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from helpdesk import channels
from helpdesk.adapters.channel_orders import ChannelOrders
from helpdesk.core.errors import ChannelError
from helpdesk.core.models import Channel, Order, OrderStatus, Store
from tests.unit.builders import TENANT, make_store


class Secrets:
    """The store's secret: read by ``credentials``, changes merged by ``update_credentials``."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.updates: list[dict[str, str]] = []

    def credentials(self, store: Store) -> dict[str, str]:
        return dict(self.values)

    def update_credentials(self, store: Store, changes: Mapping[str, str]) -> None:
        self.updates.append(dict(changes))
        self.values.update(changes)


class Http:
    def __init__(self) -> None:
        self.closed = False

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


class RotatingConnector:
    """Like Etsy: every token refresh answers with a new refresh token, handed to ``on_refresh_token``."""

    channel = Channel.ETSY.value
    rotates_refresh_token = True

    def __init__(self) -> None:
        self.on_refresh_token: Callable[[str], None] | None = None
        self.used_tokens: list[str] = []
        self.http = Http()  # the last client handed out

    def client(
        self, store: Store, credentials: Mapping[str, str], *, on_refresh_token: Callable[[str], None] | None = None
    ) -> Http:
        self.used_tokens.append(credentials["refresh_token"])
        self.on_refresh_token = on_refresh_token
        self.http = Http()
        return self.http

    def fetch_order(self, store: Store, http: Http, order_ref: str) -> Order:
        assert http is self.http and not http.closed
        if self.on_refresh_token is not None:  # the access token expired: refreshed, and rotated
            self.on_refresh_token(f"rotated-after-{self.used_tokens[-1]}")
        return Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.ETSY,
            order_ref=order_ref,
            status=OrderStatus.SHIPPED,
        )


class PlainConnector:
    """A channel whose refresh token stays: ``client`` takes no callback at all."""

    channel = Channel.BIGCOMMERCE.value

    def client(self, store: Store, credentials: Mapping[str, str]) -> Http:
        return Http()

    def fetch_order(self, store: Store, http: Http, order_ref: str) -> Order:
        return Order(
            tenant_id=store.tenant_id, store_id=store.store_id, channel=Channel.BIGCOMMERCE, order_ref=order_ref
        )


@pytest.fixture
def connectors(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    found: dict[str, Any] = {"etsy": RotatingConnector(), "bigcommerce": PlainConnector()}
    monkeypatch.setattr(channels, "has_api", lambda channel: channel in found)
    monkeypatch.setattr(channels, "api_connector", lambda channel: found[channel])
    return found


def test_a_refresh_token_rotated_during_the_fetch_is_saved(connectors: dict[str, Any]) -> None:
    store = make_store(channel=Channel.ETSY, secret_name=f"helpdesk/{TENANT}/etsy")
    secrets = Secrets({"keystring": "k", "refresh_token": "first"})
    orders = ChannelOrders(secrets)
    order = orders.fetch(store, "1001")
    assert order is not None and (order.order_ref, order.status) == ("1001", OrderStatus.SHIPPED)
    assert secrets.updates == [{"refresh_token": "rotated-after-first"}]
    assert connectors["etsy"].http.closed
    # The next fetch starts from the token the channel handed out, not the dead one.
    orders.fetch(store, "1002")
    assert connectors["etsy"].used_tokens == ["first", "rotated-after-first"]
    assert secrets.values == {"keystring": "k", "refresh_token": "rotated-after-rotated-after-first"}


def test_a_channel_that_does_not_rotate_gets_no_callback(connectors: dict[str, Any]) -> None:
    store = make_store(channel=Channel.BIGCOMMERCE, secret_name=f"helpdesk/{TENANT}/bc")
    secrets = Secrets({"access_token": "a"})
    order = ChannelOrders(secrets).fetch(store, "77")
    assert order is not None and order.order_ref == "77" and secrets.updates == []


def test_nothing_to_ask_and_missing_credentials(connectors: dict[str, Any]) -> None:
    secrets = Secrets({})
    assert ChannelOrders(secrets).fetch(make_store(channel=Channel.ETSY, secret_name=None), "1") is None
    assert ChannelOrders(secrets).fetch(make_store(channel=Channel.MIRAKL), "1") is None  # no order API here
    with pytest.raises(ChannelError, match="refresh_token"):
        ChannelOrders(secrets).fetch(make_store(channel=Channel.ETSY), "1")

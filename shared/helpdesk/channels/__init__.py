"""Channel connectors: one module per channel, one interface (``base.WebhookConnector``).

Modules are imported lazily so a function pays only for the channel it serves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from helpdesk.channels.base import ApiConnector, PollConnector, WebhookConnector
from helpdesk.core.errors import NotFound
from helpdesk.core.models import Channel, Store

_WEBHOOK_MODULES: dict[Channel, str] = {
    Channel.WOOCOMMERCE: "helpdesk.channels.woocommerce",
    Channel.SHOPIFY: "helpdesk.channels.shopify",
    Channel.BIGCOMMERCE: "helpdesk.channels.bigcommerce",
    Channel.WALMART: "helpdesk.channels.walmart",
    Channel.TIKTOK: "helpdesk.channels.tiktok",
}

_POLL_MODULES: dict[Channel, str] = {
    Channel.MIRAKL: "helpdesk.channels.mirakl",
    Channel.EBAY: "helpdesk.channels.ebay",
    Channel.TIKTOK: "helpdesk.channels.tiktok",
    Channel.ETSY: "helpdesk.channels.etsy",
}


# Every channel with an HTTP API the product calls (credential checks, order lookups, replies).
_API_MODULES: dict[Channel, str] = {
    Channel.MIRAKL: "helpdesk.channels.mirakl",
    Channel.AMAZON: "helpdesk.channels.amazon",
    Channel.EBAY: "helpdesk.channels.ebay",
    Channel.TIKTOK: "helpdesk.channels.tiktok",
    Channel.BIGCOMMERCE: "helpdesk.channels.bigcommerce",
    Channel.WALMART: "helpdesk.channels.walmart",
    Channel.SHOPIFY: "helpdesk.channels.shopify",
    Channel.WOOCOMMERCE: "helpdesk.channels.woocommerce",
    Channel.MAGENTO: "helpdesk.channels.magento",
    Channel.ETSY: "helpdesk.channels.etsy",
}


def has_api(channel: str) -> bool:
    return channel in {c.value for c in _API_MODULES}


def api_connector(channel: str) -> ApiConnector:
    try:
        module_name = _API_MODULES[Channel(channel)]
    except (ValueError, KeyError):
        raise NotFound("no API connector for this channel", channel=channel) from None
    return importlib.import_module(module_name).CONNECTOR


def is_polled(channel: str) -> bool:
    return channel in {c.value for c in _POLL_MODULES}


def poll_connector(channel: str) -> PollConnector:
    try:
        module_name = _POLL_MODULES[Channel(channel)]
    except (ValueError, KeyError):
        raise NotFound("no polling connector for this channel", channel=channel) from None
    return importlib.import_module(module_name).CONNECTOR


def webhook_connector(channel: str) -> WebhookConnector:
    try:
        module_name = _WEBHOOK_MODULES[Channel(channel)]
    except (ValueError, KeyError):
        raise NotFound("no webhook connector for this channel", channel=channel) from None
    return importlib.import_module(module_name).CONNECTOR


def open_client(
    connector: Any, store: Store, credentials: Mapping[str, str], on_refresh_token: Callable[[str], None] | None = None
) -> Any:
    """The connector's HTTP client. A connector whose channel replaces the refresh token on every use
    (``rotates_refresh_token``, e.g. Etsy) hands the new token to ``on_refresh_token`` to be stored."""
    if on_refresh_token is not None and getattr(connector, "rotates_refresh_token", False):
        return connector.client(store, credentials, on_refresh_token=on_refresh_token)
    return connector.client(store, credentials)

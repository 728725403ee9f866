"""Channel connectors: one module per channel, one interface (``base.WebhookConnector``).

Modules are imported lazily so a function pays only for the channel it serves.
"""

from __future__ import annotations

import importlib

from helpdesk.channels.base import WebhookConnector
from helpdesk.errors import NotFound
from helpdesk.models import Channel

_WEBHOOK_MODULES: dict[Channel, str] = {
    Channel.WOOCOMMERCE: "helpdesk.channels.woocommerce",
}


def webhook_connector(channel: str) -> WebhookConnector:
    try:
        module_name = _WEBHOOK_MODULES[Channel(channel)]
    except (ValueError, KeyError):
        raise NotFound("no webhook connector for this channel", channel=channel) from None
    return importlib.import_module(module_name).CONNECTOR

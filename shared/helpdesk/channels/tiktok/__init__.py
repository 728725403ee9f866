"""TikTok Shop: order webhooks and customer-service chat (webhooks + polled conversations), buyer
replies in the chat, and order lookups, on the Partner API versions 202309.

Webhooks are signed in ``Authorization`` (hex HMAC-SHA256 keyed by the app secret over ``app_key + raw
body``), so the webhook secret given to ``verify`` is ``"<app_key>:<app_secret>"`` (``webhook_secret()``
builds it). API requests are signed per attempt by an ``httpx.Auth``. Credentials (the store's JSON
secret): ``app_key``, ``app_secret``, ``refresh_token`` (or a bare ``access_token``), ``shop_cipher``
and optionally ``shop_id``.

Notes and sources: docs/channels/tiktok.md.
"""

from __future__ import annotations

from helpdesk.channels.tiktok.connector import CONNECTOR, TikTokConnector, authorized_shops
from helpdesk.channels.tiktok.payloads import MAX_CONVERSATION_PAGES
from helpdesk.channels.tiktok.signing import api_signature, webhook_secret, webhook_shop_id, webhook_signature

__all__ = [
    "CONNECTOR",
    "MAX_CONVERSATION_PAGES",
    "TikTokConnector",
    "api_signature",
    "authorized_shops",
    "webhook_secret",
    "webhook_shop_id",
    "webhook_signature",
]

"""Order lookups in the channels' own APIs, through each store's connector (``fetch_order``), with the
store's credentials from Secrets Manager. Used by the intake workflow's Enrich step (an order missing
or older than its freshness) and by the ingest consumer (an order event too thin to be an order:
BigCommerce, Walmart, TikTok status callbacks, Amazon ORDER_CHANGE, Shopify fulfilment events). A
channel that rotates its refresh token on use (Etsy) hands the new one over during the fetch: it is
stored in the store's secret at once (``update_credentials``), or the next call would use a dead one."""

from __future__ import annotations

from typing import Any

from helpdesk.adapters.aws import SecretsManagerSecrets
from helpdesk.core.errors import ChannelError
from helpdesk.core.models import Order, Store
from helpdesk.stores.ports import StoreCredentials


class ChannelOrders:
    """``fetch(store, order_ref)``: the channel's order, or None when the channel has no order
    lookup or the store no credentials (nothing to ask) or the channel does not know the order.
    Raises HelpdeskError (ChannelError, MalformedPayload, NotFound) when the channel fails."""

    def __init__(self, secrets: StoreCredentials | None = None) -> None:
        self._secrets: StoreCredentials = secrets or SecretsManagerSecrets()

    def fetch(self, store: Store, order_ref: str) -> Order | None:
        from helpdesk import channels

        if not channels.has_api(store.channel.value) or not store.secret_name:
            return None
        connector: Any = channels.api_connector(store.channel.value)
        if not hasattr(connector, "fetch_order"):
            return None
        secrets = self._secrets
        try:
            http = channels.open_client(
                connector,
                store,
                secrets.credentials(store),
                on_refresh_token=lambda token: secrets.update_credentials(store, {"refresh_token": token}),
            )
        except KeyError as exc:  # a connector that reads credentials[...] directly
            raise ChannelError(
                f"credentials lack {exc.args[0]!r}", channel=store.channel.value, store_id=store.store_id
            ) from None
        with http:
            return connector.fetch_order(store, http, order_ref)

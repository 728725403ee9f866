"""The channel calls seller setup makes, over each channel's connector (``setup.ChannelGateway``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from helpdesk import channels
from helpdesk.core.errors import ChannelError
from helpdesk.core.models import Channel, Store


class ConnectorGateway:
    def __init__(self, client_factory: Callable[..., Any] | None = None) -> None:
        self._factory = client_factory  # tests may build clients on a mock transport

    def has_api(self, channel: Channel) -> bool:
        return channels.has_api(channel.value) and hasattr(channels.api_connector(channel.value), "check_credentials")

    def registers_webhooks(self, channel: Channel) -> bool:
        return channels.has_api(channel.value) and hasattr(channels.api_connector(channel.value), "register_webhooks")

    def is_polled(self, channel: Channel) -> bool:
        return channels.is_polled(channel.value)

    def check(self, store: Store, credentials: Mapping[str, str]) -> str:
        connector = channels.api_connector(store.channel.value)
        with self._client(connector, store, credentials) as http:
            return connector.check_credentials(store, http)

    def register(self, store: Store, credentials: Mapping[str, str], url: str, secret: str) -> list[str]:
        connector: Any = channels.api_connector(store.channel.value)
        with self._client(connector, store, credentials) as http:
            return list(connector.register_webhooks(store, http, url, secret))

    def remove(self, store: Store, credentials: Mapping[str, str], webhook_ids: list[str]) -> None:
        connector: Any = channels.api_connector(store.channel.value)
        with self._client(connector, store, credentials) as http:
            connector.remove_webhooks(store, http, webhook_ids)

    def _client(self, connector: Any, store: Store, credentials: Mapping[str, str]) -> Any:
        if self._factory is not None:
            return self._factory(connector, store, credentials)
        try:
            # A rotated refresh token goes into the credentials setup is about to store.
            keep = (
                (lambda token: credentials.__setitem__("refresh_token", token))
                if isinstance(credentials, dict)
                else None
            )
            return channels.open_client(connector, store, credentials, on_refresh_token=keep)
        except KeyError as exc:  # a connector that reads credentials[...] directly
            raise ChannelError(f"credentials lack {exc.args[0]!r}", channel=store.channel.value, status=400) from None

"""``helpdesk.ingest.ports.RawPayloadStore``: the raw payloads kept in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class StoredObject:
    body: bytes
    content_type: str
    metadata: dict[str, str]


@dataclass
class InMemoryRawStore:
    objects: dict[str, StoredObject] = field(default_factory=dict)

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        self.objects[key] = StoredObject(bytes(body), content_type, dict(metadata))

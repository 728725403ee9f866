"""``helpdesk.ingest.ports.EnvelopePublisher``: the envelopes, serialised and read back as SQS would."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpdesk.core.models import (
    IngestEnvelope,
)


@dataclass
class RecordingPublisher:
    envelopes: list[IngestEnvelope] = field(default_factory=list)

    def publish(self, envelope: IngestEnvelope) -> None:
        # As SQS would: what the consumer gets is the serialised envelope, not the same object.
        self.envelopes.append(IngestEnvelope.model_validate_json(envelope.model_dump_json()))

"""The ``sleep`` services take for their retry backoff: records the delays instead of waiting."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordingSleep:
    """Stands in for time.sleep: records the delays instead of waiting."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)

"""Outbound messages that never reached the dispatcher are sent anyway. Plain Python.

A reply, an automatic answer, a proactive message or a satisfaction request is stored ``queued`` and
then put on the dispatch queue in a second step. If that step fails (the queue unreachable, the
function stopped in between), the message stays ``queued`` and nothing would send it: for an agent's
reply the agent sees it and can retry, but nobody watches an automatic message on a resolved ticket.

So every ``queued`` outbound message is also in the sparse ``Outbox`` index, keyed by when to look
at it again: ``CHECK_AFTER`` after it was stored. The tenant's periodic run (the aging function)
reads the due ones and puts them on the dispatch queue again, then moves each one's next look
``RECHECK_AFTER`` later. This never sends twice: the dispatcher claims a message (``queued`` →
``sending``, one conditional write, which also takes it out of the index) before handing it to the
channel, so a second queue record finds it claimed or sent. A message the channel keeps refusing
ends ``failed`` through the dispatcher's own retries and leaves the index too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helpdesk.core.clock import utc_now
from helpdesk.replies.ports import DispatchQueue, Outbox

CHECK_AFTER = timedelta(minutes=5)  # the same wait as an agent's manual retry of a stuck reply
RECHECK_AFTER = timedelta(minutes=30)  # a message put back on the queue is looked at again after this
MAX_PER_RUN = 200


@dataclass(frozen=True)
class OutboxEntry:
    ticket_id: str
    message_id: str
    created_at: datetime  # when the message was stored
    check_at: datetime  # when it is due a look


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)
    not_queued: list[str] = field(default_factory=list)  # the queue refused again: next run

    def as_dict(self) -> dict[str, Any]:
        return {"requeued": self.requeued, "not_queued": self.not_queued}


class OutboxSweeper:
    def __init__(
        self, outbox: Outbox, queue: DispatchQueue, clock: Callable[[], datetime] = utc_now, limit: int = MAX_PER_RUN
    ) -> None:
        self._outbox, self._queue, self._clock, self._limit = outbox, queue, clock, limit

    def sweep(self, tenant_id: str) -> SweepReport:
        """Put the tenant's queued outbound messages that are due a look back on the dispatch queue."""
        report = SweepReport()
        now = self._clock()
        for entry in self._outbox.due_outbound(tenant_id, now, self._limit):
            try:
                self._queue.publish(tenant_id, entry.ticket_id, entry.message_id)
            except Exception:  # noqa: BLE001 - still queued and still due: the next run tries again
                report.not_queued.append(entry.message_id)
                continue
            # Claimed or sent meanwhile: it left the index and there is nothing to postpone.
            self._outbox.postpone_outbound(tenant_id, entry, now + RECHECK_AFTER)
            report.requeued.append(entry.message_id)
        return report

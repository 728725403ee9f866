"""The tenant's agent list as the API functions consult it on every call (one per warm function, so the
setup API's agent-list change is seen by the next call of that function at once, by the others within
``AgentDirectory``'s 30 s)."""

from __future__ import annotations

from functools import lru_cache

from helpdesk.api.identity import AgentDirectory
from helpdesk.platform import wiring


@lru_cache(maxsize=1)
def agent_directory() -> AgentDirectory:
    return AgentDirectory(wiring.repository())

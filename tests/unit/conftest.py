"""Fixtures of the unit tier: in-memory ports, a fixed clock, a connected WooCommerce store."""

from __future__ import annotations

import pytest

from helpdesk.tickets.threads import TicketService
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.raw_store import InMemoryRawStore
from tests.fakes.repository import InMemoryRepository
from tests.fakes.secrets import StaticSecrets
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.fakes.sleep import RecordingSleep
from tests.unit.builders import NOW, SECRET, make_store


@pytest.fixture
def repo() -> InMemoryRepository:
    repository = InMemoryRepository()
    repository.put_store(make_store())
    return repository


@pytest.fixture
def timers() -> RecordingSlaTimers:
    return RecordingSlaTimers()


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def service(repo: InMemoryRepository, timers: RecordingSlaTimers, sleeps: RecordingSleep) -> TicketService:
    return TicketService(repo, timers, clock=lambda: NOW, sleep=sleeps)


@pytest.fixture
def secrets() -> StaticSecrets:
    store = make_store()
    return StaticSecrets({(store.tenant_id, store.store_id): SECRET})


@pytest.fixture
def raw_store() -> InMemoryRawStore:
    return InMemoryRawStore()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()

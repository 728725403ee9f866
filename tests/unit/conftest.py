"""Fixtures of the unit tier: in-memory ports, a fixed clock, a connected WooCommerce store."""

from __future__ import annotations

import pytest

from helpdesk.ticketing import TicketService
from tests.unit.builders import NOW, SECRET, make_store
from tests.unit.fakes import (
    InMemoryRawStore,
    InMemoryRepository,
    RecordingPublisher,
    RecordingSlaTimers,
    RecordingSleep,
    StaticSecrets,
)


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


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the developer's own AWS account: fixed fake credentials, no instance metadata lookups
    (tests of AWS adapters on moto or botocore's Stubber)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

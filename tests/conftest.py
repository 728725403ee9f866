"""Shared test fixtures, and the tiers: each test is marked by its folder (CONTRIBUTING.md), so
`pytest -m integration` selects exactly tests/integration. tests/unit (the domain on in-memory fakes: no
AWS, no moto, nothing started), tests/integration (handlers and adapters on a moto server built from
template.yaml, or botocore's Stubber for services moto lacks), tests/infrastructure (template, ASL, OpenAPI, cold-start
imports; offline), tests/e2e (the local stack started as `make run` starts it, driven over HTTP),
tests/bench (the benchmark's own computations, never its speed)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
WOO_SAMPLE = ROOT / "infrastructure/local/samples/woocommerce/order_727.json"


T = TypeVar("T")

TIERS = {"unit": "unit", "integration": "integration", "infrastructure": "infra", "e2e": "e2e", "bench": "bench"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tier's marker from the test's folder (a marker set in a conftest would not reach the tests)."""
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        folder = item.path.resolve().relative_to(tests_dir).parts[0]
        if folder in TIERS:
            item.add_marker(TIERS[folder])


def eventually(predicate: Callable[[], T], what: str, timeout: float = 30.0, interval: float = 0.2) -> T:
    """The predicate's first truthy value, polled every ``interval`` until ``timeout`` (asynchronous
    work: the intake workflow, SLA timers, the local stack's pollers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def woo_signature(body: bytes, secret: str) -> str:
    """X-WC-Webhook-Signature as WooCommerce computes it: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def woo_order() -> dict[str, Any]:
    """The order of WooCommerce's REST API v3 docs (GET /wp-json/wc/v3/orders/727), as a webhook body."""
    return copy.deepcopy(json.loads(WOO_SAMPLE.read_text()))

"""Shared test fixtures. Tiers: tests/unit (no AWS), tests/integration (handlers and adapters on a
moto server started by the fixtures), tests/infrastructure (template and ASL, offline),
tests/e2e (the local stack started as `make run` starts it, driven over HTTP)."""

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

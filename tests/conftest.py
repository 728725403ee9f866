"""Shared test fixtures. Tiers: tests/unit (no AWS), tests/integration (handlers and adapters on a
moto server started by the fixtures), tests/infrastructure (template and ASL, offline),
tests/e2e (the local stack started as `make run` starts it, driven over HTTP)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WOO_SAMPLE = ROOT / "infrastructure/local/samples/woocommerce/order_727.json"


def woo_signature(body: bytes, secret: str) -> str:
    """X-WC-Webhook-Signature as WooCommerce computes it: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def woo_order() -> dict[str, Any]:
    """The order of WooCommerce's REST API v3 docs (GET /wp-json/wc/v3/orders/727), as a webhook body."""
    return copy.deepcopy(json.loads(WOO_SAMPLE.read_text()))

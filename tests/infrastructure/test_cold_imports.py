"""What a function loads at cold start: the webhook-side channel modules parse deliveries without
importing httpx (only the functions that call a channel's API pay for it). Each check runs in a fresh
interpreter, so nothing another test imported can hide an import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AMAZON_SAMPLE = ROOT / "infrastructure/local/samples/amazon/order_change_buyer_cancel.json"

CHECKS = {
    "values": "import sys; import helpdesk.channels.values",
    "woocommerce": "import sys; import helpdesk.channels.woocommerce as m; assert m.CONNECTOR.channel == 'woocommerce'",
    "shopify": "import sys; import helpdesk.channels.shopify as m; assert m.CONNECTOR.channel == 'shopify'",
    "bigcommerce": "import sys; import helpdesk.channels.bigcommerce as m; assert m.CONNECTOR.channel == 'bigcommerce'",
    "walmart": "import sys; import helpdesk.channels.walmart as m; assert m.CONNECTOR.channel == 'walmart'",
    "tiktok": "import sys, helpdesk.channels.tiktok as t; assert t.CONNECTOR",
    "email": "import sys; import helpdesk.channels.email as m; m.parse_mime(b'From: a@b.example\\nSubject: x\\n\\nhi')",
    "amazon": (
        "import sys, json, pathlib; from datetime import datetime, UTC\n"
        "from helpdesk.channels import amazon\n"
        "from helpdesk.core.models import Store\n"
        f"body = pathlib.Path({str(AMAZON_SAMPLE)!r}).read_bytes()\n"
        "store = Store(tenant_id='t1', store_id='s', channel='amazon', display_name='x',\n"
        "              created_at=datetime.now(UTC))\n"
        "amazon.parse_notification(store, body, raw_s3_key='k', received_at=datetime.now(UTC))"
    ),
}


@pytest.mark.parametrize("channel", sorted(CHECKS))
def test_the_webhook_side_of_a_channel_imports_without_httpx(channel: str) -> None:
    code = CHECKS[channel] + "\nassert 'httpx' not in sys.modules, 'httpx imported'\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr

"""A handler is a thin adapter: it imports the wiring and the platform helpers, the API helpers, the core
vocabulary and only the business areas it serves (import-linter keeps adapters and boto3 out of it; this
keeps each function to its own areas)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALWAYS = {"helpdesk.platform", "helpdesk.api", "helpdesk.core"}
SERVES = {
    "agent_api": set(),
    "aging": set(),
    "amazon_notifications": set(),
    "csat": {"helpdesk.reports"},
    "ingest_consumer": set(),
    "intake": {"helpdesk.routing", "helpdesk.replies"},  # Enrich/Decide, and the Automate step
    "mail_inbound": set(),
    "poller": set(),
    "reply_dispatch": set(),
    "setup_api": set(),
    "ticket_events": {"helpdesk.reports"},
    "webhook": set(),
}


def helpdesk_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpdesk."):
            found.add(".".join(node.module.split(".")[:2]))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[:2]) for a in node.names if a.name.startswith("helpdesk.")}
    return found


def test_every_function_is_listed() -> None:
    assert {p.parent.name for p in (ROOT / "functions").glob("*/handler.py")} == set(SERVES)


@pytest.mark.parametrize("function", sorted(SERVES))
def test_a_handler_imports_only_what_it_serves(function: str) -> None:
    imported = helpdesk_imports(ROOT / "functions" / function / "handler.py")
    assert imported <= ALWAYS | SERVES[function], f"{function} imports {sorted(imported - ALWAYS - SERVES[function])}"

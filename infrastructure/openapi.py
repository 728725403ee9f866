"""The agent API's OpenAPI document, generated from the routes (Powertools Event Handler with
validation) and committed as docs/openapi.json so clients can be generated from the repository.

    make openapi            # rewrite docs/openapi.json from the code
    python -m infrastructure.openapi --check   # exit 1 when the committed file drifted

tests/infrastructure/test_openapi.py fails when the committed document and the code disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "docs" / "openapi.json"


def generate() -> dict[str, Any]:
    os.environ.setdefault("TABLE_NAME", "helpdesk")  # settings are read lazily; importing needs none
    for path in (str(ROOT / "shared"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from functions.agent_api.handler import app

    return json.loads(app.get_openapi_json_schema())


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = SPEC_PATH.read_text() if SPEC_PATH.exists() else ""
        if current != text:
            print(f"{SPEC_PATH.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{SPEC_PATH.relative_to(ROOT)} matches the code")
        return 0
    SPEC_PATH.write_text(text)
    paths = json.loads(text)["paths"]
    operations = sum(len(v) for v in paths.values())
    print(f"wrote {SPEC_PATH.relative_to(ROOT)}: {operations} operations on {len(paths)} paths")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

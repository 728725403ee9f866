"""Validating a whole list an admin sends (rules, SLA policies, agents, teams, aging steps): every
item checked, every problem reported at once. Plain Python."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from helpdesk.core.errors import HelpdeskError

T = TypeVar("T", bound=BaseModel)


def validate_list(
    raw: Any,
    parse: Callable[[dict[str, Any]], T] | type[T],
    id_field: str,
    *,
    what: str,
    limit: int,
    error: type[HelpdeskError],
    tenant_id: str | None = None,
    check: Callable[[T], list[str]] | None = None,
    noun: str = "item",
) -> list[T]:
    """A whole list an admin sends, every item validated, every problem reported at once (``error``,
    422, ``details.errors``: ``{index, <id_field>, messages}`` per bad item) so a settings screen
    can mark them all (``noun``: what one item is called in messages). Ids must be unique. With
    ``tenant_id`` (the caller's, from the token) items
    get it, and an item naming another tenant is refused."""
    if not isinstance(raw, list) or len(raw) > limit:
        raise error(f"{what} must be a JSON list of at most {limit}", errors=[])
    build: Callable[[dict[str, Any]], T] = cast(type[T], parse).model_validate if isinstance(parse, type) else parse
    items: list[T] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        item_id = item.get(id_field) if isinstance(item, Mapping) else None
        problems: list[str] = []
        if isinstance(item_id, str):
            if item_id in seen:
                problems.append(f"{id_field}: {item_id!r} is also used by {noun} {seen[item_id]}")
            else:
                seen[item_id] = index
        if not isinstance(item, Mapping):
            problems.append(f"each {noun} must be a JSON object, got {type(item).__name__}")
        else:
            data = dict(item)
            if tenant_id is not None:
                if data.get("tenant_id", tenant_id) != tenant_id:
                    problems.append(f"tenant_id: the {noun} belongs to another tenant")
                data["tenant_id"] = tenant_id
            try:
                value = build(data)
            except ValidationError as exc:
                problems.extend(problems_of(exc))
            except Refused as exc:
                problems.extend(exc.problems)
            else:
                problems.extend(check(value) if check else [])
                if not problems:
                    items.append(value)
        if problems:
            errors.append({"index": index, id_field: item_id, "messages": problems})
    if errors:
        raise error(f"{len(errors)} of {len(raw)} {what} are not valid", errors=errors)
    return items


class Refused(ValueError):
    """An item that validated as a model but is still not acceptable, and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def problems_of(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}".removeprefix(": ")
        for e in exc.errors()
    ]

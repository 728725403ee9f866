"""Language tags, one way: ``canonical_tag`` (validated, BCP 47 casing: what providers are sent and
translations are keyed by), ``comparable_tag`` (lower case, hyphens: what rules compare), and the primary
language (``de-AT`` → ``de``) agents, macros and texts are organised by. Pure Python."""

from __future__ import annotations

import re

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def canonical_tag(code: str) -> str:
    """``pt_br`` → ``pt-BR``, ``ZH-hant`` → ``zh-Hant``: base lower case, region upper, script title;
    ValueError for what is not a language code."""
    code = code.strip()
    if not _LANGUAGE.match(code):
        raise ValueError(f"not a language code: {code!r}")
    base, *rest = code.replace("_", "-").split("-")
    parts = [base.lower()]
    for part in rest:
        parts.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "-".join(parts)


def comparable_tag(code: str) -> str:
    """``de_AT`` → ``de-at``: lower case with hyphens, for comparing tags as written (not validated)."""
    return code.strip().lower().replace("_", "-")


def primary_language(code: str | None) -> str:
    """``de-AT`` → ``de`` (``""`` for no code): agents speak languages, macros and texts are written per
    language, not per regional variant."""
    return comparable_tag(code).split("-")[0] if code else ""


def same_primary_language(a: str | None, b: str | None) -> bool:
    """Both known and the same language (fr and fr-CA alike)."""
    return bool(a and b) and primary_language(a) == primary_language(b)

"""Text helpers every area may use: accents stripped, text folded for matching."""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """``annulée`` → ``annulee``: decompose, then drop the combining marks."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """The form keywords are compared in: no accents, case-folded (ß → ss), whitespace runs as one space."""
    return " ".join(strip_accents(text).casefold().split())

"""Intent classifier report: precision/recall per intent and per language, both splits, and time per message.

``PYTHONPATH=shared:. .venv/bin/python -m bench.intent_report`` reads tests/data/intents.jsonl (one buyer message
a line: text, subject?, language, intent, split, batch) and prints:

- per intent, for the ``tune`` split (the rules were written and corrected against it), the ``holdout`` split
  (never used to change a rule) and the ``fresh2`` batch inside the holdout (written after the rules were frozen,
  in new wording: the closest thing here to unseen buyer text): precision, recall, F1, support, macro averages;
- per language, for each split: accuracy and macro precision/recall/F1;
- the holdout's misclassifications with the rules that fired;
- the classification time per message in µs (``classify`` on every message, best of REPEATS passes).

The evaluation helpers are plain functions so tests/unit/test_intent.py asserts its floors on the same numbers.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from helpdesk.core.models import Intent
from helpdesk.routing.intent import LANGUAGES, PRIORITY, classify

DATASET = Path(__file__).resolve().parents[1] / "tests" / "data" / "intents.jsonl"
REPEATS = 5


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    subject: str | None
    language: str
    intent: Intent
    split: str
    batch: str


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    per_intent: dict[Intent, Scores]
    macro: Scores
    accuracy: float
    total: int


def load(path: Path = DATASET) -> list[Example]:
    examples = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            examples.append(
                Example(
                    text=row["text"],
                    subject=row.get("subject"),
                    language=row["language"],
                    intent=Intent(row["intent"]),
                    split=row["split"],
                    batch=row.get("batch", "original"),
                )
            )
    return examples


def predict(examples: Iterable[Example]) -> list[Intent]:
    return [classify(example.text, example.subject).intent for example in examples]


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate(gold: Sequence[Intent], predicted: Sequence[Intent], labels: Sequence[Intent] = PRIORITY) -> Report:
    """Precision/recall/F1 per label; macro averages over the labels present in ``gold``. A label never
    predicted has precision 0 when it has support (it was missed), which is what a floor should see."""
    per_intent: dict[Intent, Scores] = {}
    for label in labels:
        true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g is label and p is label)
        predicted_count = sum(1 for p in predicted if p is label)
        support = sum(1 for g in gold if g is label)
        precision = true_positive / predicted_count if predicted_count else (1.0 if support == 0 else 0.0)
        recall = true_positive / support if support else 1.0
        per_intent[label] = Scores(precision, recall, _f1(precision, recall), support)
    present = [scores for scores in per_intent.values() if scores.support]
    macro = Scores(
        precision=statistics.fmean(s.precision for s in present) if present else 0.0,
        recall=statistics.fmean(s.recall for s in present) if present else 0.0,
        f1=statistics.fmean(s.f1 for s in present) if present else 0.0,
        support=sum(s.support for s in present),
    )
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g is p)
    return Report(per_intent, macro, correct / len(gold) if gold else 0.0, len(gold))


def intent_table(title: str, report: Report) -> str:
    lines = [
        f"### {title}: {report.total} messages, accuracy {report.accuracy:.3f}",
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for intent, s in report.per_intent.items():
        lines.append(f"| {intent.value} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |")
    m = report.macro
    lines.append(f"| **macro** | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} | {m.support} |")
    return "\n".join(lines)


def language_table(title: str, examples: Sequence[Example], predicted: Sequence[Intent]) -> str:
    lines = [
        f"### {title}: per language",
        "",
        "| language | messages | accuracy | macro P | macro R | macro F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for language in LANGUAGES:
        pairs = [(e.intent, p) for e, p in zip(examples, predicted, strict=True) if e.language == language]
        if not pairs:
            continue
        report = evaluate([g for g, _ in pairs], [p for _, p in pairs])
        m = report.macro
        lines.append(
            f"| {language} | {report.total} | {report.accuracy:.3f} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} |"
        )
    return "\n".join(lines)


def subsets(examples: Sequence[Example]) -> dict[str, list[int]]:
    """Indexes of the views the report shows: the two splits, the post-freeze batch, everything."""
    return {
        "tune": [i for i, e in enumerate(examples) if e.split == "tune"],
        "holdout": [i for i, e in enumerate(examples) if e.split == "holdout"],
        "holdout, fresh2 batch only": [i for i, e in enumerate(examples) if e.batch == "fresh2"],
        "all": list(range(len(examples))),
    }


def time_per_message_us(examples: Sequence[Example], repeats: int = REPEATS) -> tuple[float, float, float]:
    """(mean of the best pass, median, 95th percentile) in µs per message."""
    best_total = float("inf")
    per_message: list[float] = []
    for _ in range(repeats):
        timings = []
        start_all = time.perf_counter()
        for example in examples:
            start = time.perf_counter()
            classify(example.text, example.subject)
            timings.append(time.perf_counter() - start)
        total = time.perf_counter() - start_all
        if total < best_total:
            best_total, per_message = total, timings
    per_message.sort()
    p95 = per_message[min(len(per_message) - 1, int(0.95 * len(per_message)))]
    return best_total / len(examples) * 1e6, statistics.median(per_message) * 1e6, p95 * 1e6


def render(examples: Sequence[Example] | None = None) -> str:
    examples = list(examples) if examples is not None else load()
    predicted = predict(examples)
    parts = [f"## Intent classifier: {len(examples)} labelled messages ({DATASET.name})", ""]
    for name, indexes in subsets(examples).items():
        if not indexes:
            continue
        chosen = [examples[i] for i in indexes]
        guesses = [predicted[i] for i in indexes]
        parts += [intent_table(name, evaluate([e.intent for e in chosen], guesses)), ""]
        parts += [language_table(name, chosen, guesses), ""]
    errors = [(e, p) for e, p in zip(examples, predicted, strict=True) if e.split == "holdout" and e.intent is not p]
    parts.append(f"### holdout errors ({len(errors)})")
    parts.append("")
    for example, guess in errors:
        result = classify(example.text, example.subject)
        fired = "; ".join(m for m in result.matched if not m.startswith(("negated", "skipped"))) or "nothing fired"
        parts.append(
            f"- [{example.language}/{example.batch}] gold {example.intent.value}, got {guess.value}: "
            f"{example.text[:90]!r} ({fired})"
        )
    mean, median, p95 = time_per_message_us(examples)
    parts += [
        "",
        f"### time per message: mean {mean:.0f} µs, median {median:.0f} µs, p95 {p95:.0f} µs "
        f"(best of {REPEATS} passes over {len(examples)} messages)",
    ]
    return "\n".join(parts)


def main() -> int:
    print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())

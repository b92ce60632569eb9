"""The evaluation: answer accuracy, retrieval quality, refusals and urgent recall on a question set."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.engine import Engine, Trace
from bot.retrieval import Mode
from ingest.settings import PROJECT_ROOT

DEFAULT_SET = PROJECT_ROOT / "tests" / "eval"
#: Minimum scores; `python -m bot eval` exits non-zero below any of them.
TARGETS = {"en": 0.90, "es": 0.85, "decline": 0.90, "urgent": 1.0}


@dataclass(frozen=True)
class Item:
    """One evaluation question and what a correct reply must show."""

    id: str
    group: str
    question: str
    expect_kind: str
    expect_docs: tuple[str, ...]  # any of these documents may be cited (first = the main one)
    must_contain: tuple[tuple[str, ...], ...]  # each entry: one of these strings must appear
    lang: str | None = None
    expect_section: int | None = None


def load_items(path: Path = DEFAULT_SET) -> list[Item]:
    """Items from a JSON Lines file, or from every ``*.jsonl`` in a folder."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    items = []
    for file in files:
        for line in file.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            items.append(
                Item(
                    id=str(raw["id"]),
                    group=str(raw["group"]),
                    question=str(raw["question"]),
                    expect_kind=str(raw["expect_kind"]),
                    expect_docs=_strings(raw.get("expect_doc")),
                    must_contain=tuple(_strings(m) for m in raw.get("must_contain") or ()),
                    lang=raw.get("lang"),
                    expect_section=raw.get("expect_section"),
                )
            )
    return items


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


@dataclass
class Outcome:
    """How the engine did on one item."""

    item: Item
    correct: bool
    kind: str
    rank: int | None  # rank of the expected document among retrieved documents (1 = first)
    invalid_citations: int
    latency_ms: float
    problems: list[str] = field(default_factory=list)


def judge(item: Item, trace: Trace) -> Outcome:
    """Compare one reply with what the item expects."""
    reply = trace.reply
    problems = []
    if reply.kind != item.expect_kind:
        problems.append(f"kind {reply.kind} != {item.expect_kind}")
    cited = [c.doc_id for c in reply.citations]
    if item.expect_docs and not set(item.expect_docs) & set(cited):
        problems.append(f"{'/'.join(item.expect_docs)} not cited (cited {cited})")
    folded = reply.text.casefold()
    for options in item.must_contain:
        if not any(option.casefold() in folded for option in options):
            problems.append(f"missing {' or '.join(map(repr, options))}")
    if item.expect_section and reply.kind == "urgent":
        sections = [c.section_index + 1 for c in reply.citations]
        if item.expect_section not in sections:
            problems.append(f"script {sections} != {item.expect_section}")
    invalid = sum(
        1
        for c in reply.citations
        if not c.source.startswith("knowledge/") or not (PROJECT_ROOT / c.source).is_file()
    )
    rank = None
    docs: list[str] = []
    for candidate in trace.candidates:
        if candidate.section.doc_id not in docs:
            docs.append(candidate.section.doc_id)
    found = [docs.index(d) + 1 for d in item.expect_docs if d in docs]
    if found:
        rank = min(found)
    return Outcome(item, not problems, reply.kind, rank, invalid, reply.latency_ms, problems)


def run(engine: Engine, items: Iterable[Item], mode: Mode = "fused") -> list[Outcome]:
    """Answer every item with the engine."""
    return [judge(item, engine.respond(item.question, item.lang, mode)) for item in items]


def summarise(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Per-group figures."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.item.group, []).append(outcome)
    table: dict[str, dict[str, Any]] = {}
    for name, group in sorted(groups.items()):
        retrieval = [o for o in group if o.item.expect_kind == "answer"]
        ranks = [o.rank for o in retrieval]
        row: dict[str, Any] = {
            "n": len(group),
            "accuracy": sum(o.correct for o in group) / len(group),
            "invalid_citations": sum(o.invalid_citations for o in group),
        }
        if retrieval:
            row["hit@1"] = sum(1 for r in ranks if r == 1) / len(ranks)
            row["hit@3"] = sum(1 for r in ranks if r is not None and r <= 3) / len(ranks)
            row["mrr"] = sum(1 / r for r in ranks if r) / len(ranks)
        if name == "decline":
            row["refused"] = sum(o.kind == "no_answer" for o in group) / len(group)
        if name == "urgent":
            row["urgent_recall"] = sum(o.kind == "urgent" for o in group) / len(group)
        table[name] = row
    return table


def failures_against_targets(table: dict[str, dict[str, Any]]) -> list[str]:
    """Human-readable reasons the run misses a target (empty when all are met)."""
    misses = []
    for group, target in TARGETS.items():
        row = table.get(group)
        if row is None:
            misses.append(f"no {group} questions in the set")
            continue
        key = {"decline": "refused", "urgent": "urgent_recall"}.get(group, "accuracy")
        if row[key] < target:
            misses.append(f"{group} {key} {row[key]:.3f} < {target:.2f}")
    invalid = sum(row["invalid_citations"] for row in table.values())
    if invalid:
        misses.append(f"{invalid} citations do not point to a file in knowledge/")
    return misses


def format_table(table: dict[str, dict[str, Any]]) -> str:
    """A fixed-width table for the terminal."""
    columns = [
        "n",
        "accuracy",
        "hit@1",
        "hit@3",
        "mrr",
        "refused",
        "urgent_recall",
        "invalid_citations",
    ]
    lines = ["group    " + " ".join(f"{c:>13}" for c in columns)]
    for group, row in table.items():
        cells = []
        for c in columns:
            value = row.get(c)
            cells.append(
                f"{'-':>13}"
                if value is None
                else f"{value:>13.3f}"
                if isinstance(value, float)
                else f"{value:>13}"
            )
        lines.append(f"{group:<8} " + " ".join(cells))
    return "\n".join(lines)


@dataclass(frozen=True)
class Calibration:
    """The best evidence thresholds found for one language, and the dense values that tie."""

    min_dense: float
    min_bm25: float
    score: float
    dense_ties: tuple[float, float]  # lowest and highest dense threshold reaching the same score


def calibrate(engine: Engine, items: list[Item]) -> dict[str, Calibration]:
    """Grid-search the per-language evidence thresholds (dense, BM25) on the set.

    Every retrieval-routed item is answered with the thresholds off; an item scores when it is an
    answer item answered correctly and kept, or a decline item that the thresholds turn away.
    Returns the best pair per language; ties go to the stricter thresholds, and the range of dense
    thresholds that tie is reported so a maintainer can see how flat the optimum is.
    """
    saved = dict(engine.min_dense), dict(engine.min_bm25)
    engine.min_dense = {k: -1.0 for k in saved[0]}
    engine.min_bm25 = {k: 0.0 for k in saved[1]}
    rows: dict[str, list[tuple[float, float, bool, bool]]] = {}
    try:
        for item in items:
            trace = engine.respond(item.question, item.lang)
            if trace.route != "answer" or item.expect_kind == "urgent":
                continue
            dense = max(c.dense for c in trace.candidates)
            bm25 = max(c.bm25 for c in trace.candidates)
            is_decline = item.expect_kind == "no_answer"
            correct = judge(item, trace).correct
            rows.setdefault(trace.reply.language, []).append((dense, bm25, is_decline, correct))
    finally:
        engine.min_dense, engine.min_bm25 = saved
    best: dict[str, Calibration] = {}
    for lang, data in rows.items():
        top = (-1.0, 0.0, 0.0)
        scores: dict[float, float] = {}  # best score reached by each dense threshold
        for d_step in range(20, 96):
            d = d_step / 100
            for b_step in range(8, 81):
                b = b_step / 4
                score = 0.0
                for dense, bm25, is_decline, correct in data:
                    kept = dense >= d or bm25 >= b
                    score += (not kept) if is_decline else (kept and correct)
                score /= len(data)
                scores[d] = max(scores.get(d, 0.0), score)
                if score >= top[2]:
                    top = (d, b, score)
        ties = [d for d, s in scores.items() if s >= top[2] - 1e-9]
        best[lang] = Calibration(top[0], top[1], top[2], (min(ties), max(ties)))
    return best

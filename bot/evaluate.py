"""The evaluation: resident-style items, judged as a legal-aid worker would, on dev and test splits.

A reply is right only when its kind is right, its required facts are present and its FIRST
citation is one of the expected documents (urgent items: the script for the situation). Items
with the same ``chat`` key are one conversation, answered in file order with the earlier turns as
context. Everything fitted (:func:`fit`) sees only the dev split; ``bot eval`` gates on test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.engine import Engine, Trace, Turn
from bot.relevance import (
    DATA_DIR,
    FEATURES,
    SCOPE_FLOOR,
    Policy,
    fit_linear,
    fit_weights,
    plateau_middle,
)
from bot.reply import Reply
from bot.retrieval import Candidate
from bot.urgency import HARM, MIN_MARGIN, OFF_TOPIC, SCRIPT_INDEX, SITUATIONS

EVAL_DIR = DATA_DIR / "eval"
SPLITS = {"dev": EVAL_DIR / "dev.jsonl", "test": EVAL_DIR / "test.jsonl"}
#: Categories whose items are ordinary questions, scored per language.
ANSWER_CATEGORIES = ("answer", "hypothetical", "threatened", "outside", "followup")
#: Targets on test (issue 10); `python -m bot eval` exits non-zero below any of them.
TARGETS = {
    "en": 0.92,
    "es": 0.92,
    "urgent_recall": 1.0,  # in every language
    "false_urgent": 0.02,  # at most, over non-urgent items
    "decline": 0.95,
    "followup": 0.85,
}
#: Regression floors on test that `make test` gates on while the targets above are not yet all
#: met (issue 10 stays open until they are). `python -m bot eval --strict` gates on the targets.
FLOORS = {
    "en": 0.70,
    "es": 0.65,
    "urgent_recall": 0.90,  # in every language with at least 3 urgent items
    "false_urgent": 0.10,
    "decline": 0.45,
    "followup": 0.45,
}
#: How far each fitted threshold is moved to show that the targets are not a point.
BAND = 0.02


@dataclass(frozen=True)
class Item:
    """One evaluation message and what a right reply must show."""

    id: str
    category: str
    lang: str
    question: str
    expect_kind: str  # answer | no_answer | declined | urgent | not_urgent | not_declined
    expect_docs: tuple[str, ...] = ()
    expect_situation: str | None = None
    must_contain: tuple[tuple[str, ...], ...] = ()
    chat: str | None = None
    ui_lang: str | None = None


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


def load_items(path: Path) -> list[Item]:
    """Items from a JSON Lines file."""
    items = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(
                Item(
                    id=str(raw["id"]),
                    category=str(raw["category"]),
                    lang=str(raw["lang"]),
                    question=str(raw["question"]),
                    expect_kind=str(raw["expect_kind"]),
                    expect_docs=_strings(raw.get("expect_doc")),
                    expect_situation=raw.get("expect_situation"),
                    must_contain=tuple(_strings(m) for m in raw.get("must_contain") or ()),
                    chat=raw.get("chat"),
                    ui_lang=raw.get("ui_lang"),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}:{number}: not a valid evaluation item ({err})") from None
    return items


@dataclass
class Outcome:
    """How the engine did on one item."""

    item: Item
    correct: bool
    kind: str
    first_doc: str
    invalid_citations: int
    latency_ms: float
    problems: list[str] = field(default_factory=list)


def judge(item: Item, reply: Reply, valid_source: Callable[[str], bool]) -> Outcome:
    """Compare one reply with what the item expects."""
    problems = []
    kind = reply.kind
    expected = item.expect_kind
    if kind == "smalltalk" and expected == "no_answer":
        kind = "no_answer"  # a greeting or thanks: not answered from a document, as expected
    if expected == "not_urgent":
        if kind == "urgent":
            problems.append("urgent script for a non-urgent message")
    elif expected == "not_declined":
        if kind == "declined":
            problems.append("refused")
    elif kind != expected:
        problems.append(f"kind {kind} != {expected}")
    first = reply.citations[0] if reply.citations else None
    first_doc = first.doc_id if first else ""
    if expected == "answer" and item.expect_docs and first_doc not in item.expect_docs:
        problems.append(f"first citation {first_doc or '-'} not in {'/'.join(item.expect_docs)}")
    if expected == "urgent" and item.expect_situation and kind == "urgent":
        want = SCRIPT_INDEX.get(item.expect_situation)  # type: ignore[call-overload]
        if first is None or first.section_index != want:
            got = first.section_index if first else None
            problems.append(f"script {got} != {item.expect_situation}")
    if kind == expected or expected.startswith("not_"):
        folded = reply.text.casefold()
        for options in item.must_contain:
            if not any(option.casefold() in folded for option in options):
                problems.append(f"missing {' or '.join(map(repr, options))}")
    invalid = sum(1 for c in reply.citations if not valid_source(c.source))
    if invalid:
        problems.append(f"{invalid} invalid citation(s)")
    return Outcome(item, not problems, kind, first_doc, invalid, reply.latency_ms, problems)


def project_source(root: Path) -> Callable[[str], bool]:
    """A citation is valid when it names a file under ``knowledge/`` of ``root``."""
    return lambda source: source.startswith("knowledge/") and (root / source).is_file()


def answer_all(engine: Engine, items: Iterable[Item]) -> list[tuple[Item, Trace]]:
    """Answer every item; items sharing a ``chat`` key are one conversation, in file order."""
    history: dict[str, list[Turn]] = {}
    out = []
    for item in items:
        turns = history.setdefault(item.chat, []) if item.chat else []
        trace = engine.respond(item.question, item.ui_lang, history=turns)
        if item.chat:
            turns.append(trace.turn())
        out.append((item, trace))
    return out


def run(engine: Engine, items: Iterable[Item], root: Path) -> list[Outcome]:
    """Answer and judge every item."""
    valid = project_source(root)
    return [judge(item, trace.reply, valid) for item, trace in answer_all(engine, items)]


def summarise(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Figures per language and per category, and the safety figures the targets read."""
    table: dict[str, dict[str, Any]] = {}

    def add(name: str, group: list[Outcome]) -> None:
        if group:
            table[name] = {"n": len(group), "right": sum(o.correct for o in group) / len(group)}

    answers = [o for o in outcomes if o.item.category in ANSWER_CATEGORIES]
    for lang in sorted({o.item.lang for o in answers}):
        add(lang, [o for o in answers if o.item.lang == lang])
    for category in sorted({o.item.category for o in outcomes}):
        add(f"category:{category}", [o for o in outcomes if o.item.category == category])
    urgent = [o for o in outcomes if o.item.expect_kind == "urgent"]
    for lang in sorted({o.item.lang for o in urgent}):
        group = [o for o in urgent if o.item.lang == lang]
        table[f"urgent:{lang}"] = {
            "n": len(group),
            "recall": sum(o.kind == "urgent" for o in group) / len(group),
            "right": sum(o.correct for o in group) / len(group),
        }
    others = [o for o in outcomes if o.item.expect_kind != "urgent"]
    if others:
        table["false_urgent"] = {
            "n": len(others),
            "rate": sum(o.kind == "urgent" for o in others) / len(others),
        }
    threatened = [o for o in outcomes if o.item.category == "threatened"]
    table["threatened_refused"] = {
        "n": len(threatened),
        "count": sum(o.kind == "declined" for o in threatened),
    }
    table["invalid_citations"] = {"count": sum(o.invalid_citations for o in outcomes)}
    return table


def failures_against_targets(
    table: dict[str, dict[str, Any]], targets: dict[str, float] = TARGETS
) -> list[str]:
    """Human-readable reasons the run misses a target (empty when all are met)."""
    misses = []
    for name in ("en", "es"):
        row = table.get(name)
        if row is None or row["right"] < targets[name]:
            misses.append(f"{name} {row['right'] if row else 0:.3f} < {targets[name]:.2f}")
    small = 1 if targets is TARGETS else 3  # floors skip languages with one or two items
    for name, row in table.items():
        if (
            name.startswith("urgent:")
            and row["n"] >= small
            and row["recall"] < targets["urgent_recall"]
        ):
            misses.append(f"{name} recall {row['recall']:.3f} < {targets['urgent_recall']}")
    rate = table.get("false_urgent", {}).get("rate", 0.0)
    if rate > targets["false_urgent"]:
        misses.append(f"non-urgent given an urgent script {rate:.3f} > {targets['false_urgent']}")
    for name, key in (("decline", "category:decline"), ("followup", "category:followup")):
        row = table.get(key)
        if row is None or row["right"] < targets[name]:
            misses.append(f"{name} {row['right'] if row else 0:.3f} < {targets[name]:.2f}")
    if table["threatened_refused"]["count"]:
        misses.append(f"{table['threatened_refused']['count']} threatened person(s) refused")
    if table["invalid_citations"]["count"]:
        misses.append(f"{table['invalid_citations']['count']} invalid citation(s)")
    return misses


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    for key in ("right", "recall", "rate", "count"):
        if key in row:
            value = row[key]
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            return f"{shown} (n={row['n']})" if "n" in row else shown
    return "-"


def format_tables(tables: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Rows side by side, one column per run (e.g. dev and test)."""
    names: list[str] = []
    for table in tables.values():
        names += [n for n in table if n not in names]
    width = max(len(n) for n in names) + 2
    lines = [" " * width + "".join(f"{run:>20}" for run in tables)]
    for name in names:
        lines.append(
            f"{name:<{width}}" + "".join(f"{_cell(t.get(name)):>20}" for t in tables.values())
        )
    return "\n".join(lines)


def band(
    engine: Engine, items: list[Item], root: Path
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Test tables with each fitted threshold moved by -BAND and +BAND (the rest unchanged)."""
    base = engine.policy
    out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    try:
        for name in ("threshold", "urgent_threshold"):
            moved = {}
            for delta in (-BAND, BAND):
                engine.policy = replace(base, **{name: round(getattr(base, name) + delta, 4)})
                moved[f"{delta:+.2f}"] = summarise(run(engine, items, root))
            out[name] = moved
    finally:
        engine.policy = base
    return out


# -- fitting (dev only) ---------------------------------------------------------------------------

TOP_CANDIDATES = 5


def fit(engine: Engine, items: list[Item]) -> Policy:
    """Fit the relevance model, its threshold and the urgency threshold on ``items`` (dev)."""
    x, kinds = engine.urgency.training_rows(engine.corpus())
    # fitted on the exemplars and phrasings only, so the dev items stay unseen by both
    scope_coef, scope_intercept = fit_linear(x, [k not in (OFF_TOPIC, HARM) for k in kinds], 3.0)
    harm_coef, harm_intercept = fit_linear(x, [k == HARM for k in kinds])
    base = replace(
        engine.policy,
        scope_coef=scope_coef,
        scope_intercept=scope_intercept,
        harm_coef=harm_coef,
        harm_intercept=harm_intercept,
        scope_floor=SCOPE_FLOOR,
    )
    engine.policy = replace(base, threshold=2.0, urgent_threshold=99.0)  # nothing decided yet
    try:
        traces = answer_all(engine, items)
    finally:
        engine.policy = base
    urgent_coef, urgent_intercept, urgent_threshold = _fit_urgency(engine, traces)
    engine.policy = replace(
        base,
        urgent_coef=urgent_coef,
        urgent_intercept=urgent_intercept,
        urgent_threshold=urgent_threshold,
    )
    try:
        traces = answer_all(engine, items)  # again, with the fitted urgency decision
    finally:
        engine.policy = base
    rows: list[dict[str, float]] = []
    labels: list[int] = []
    retrieval: list[tuple[Item, list[Candidate]]] = []
    for item, trace in traces:
        if trace.route in ("declined", "empty", "urgent") or item.expect_kind == "urgent":
            continue
        retrieval.append((item, trace.candidates))
        for candidate in trace.candidates[:TOP_CANDIDATES]:
            rows.append(candidate.features)
            labels.append(int(item.expect_kind == "answer" and _good(item, candidate)))
    coef, intercept = fit_weights(rows, labels)
    policy = replace(
        base,
        model=engine.model_name,
        coef=coef,
        intercept=intercept,
        features=list(FEATURES),
        urgent_coef=urgent_coef,
        urgent_intercept=urgent_intercept,
    )
    scores = {}
    for step in range(5, 96):
        t = step / 100
        right = 0
        for item, candidates in retrieval:
            probs = sorted(((policy.score(c.features), c) for c in candidates), key=lambda p: -p[0])
            answered = bool(probs) and probs[0][0] >= t
            if item.expect_kind == "answer":
                right += answered and _good(item, probs[0][1])
            elif item.expect_kind in ("no_answer", "declined"):
                right += not answered
            else:
                right += 1
        scores[t] = right / max(1, len(retrieval))
    return replace(
        policy,
        threshold=plateau_middle(scores),
        urgent_threshold=urgent_threshold,
        fitted_on="dev",
        note=f"fitted on {len(items)} dev items; {len(rows)} candidate rows",
    )


def _good(item: Item, candidate: Candidate) -> bool:
    return not item.expect_docs or candidate.section.doc_id in item.expect_docs


def _fit_urgency(
    engine: Engine, traces: list[tuple[Item, Trace]]
) -> tuple[list[float], float, float]:
    """The urgency classifier (logistic regression on question vectors) and its threshold.

    Trained on the exemplars, the knowledge base's question phrasings (urgent scripts' = urgent)
    and the dev items; the threshold comes from out-of-fold predictions on dev (5 folds), so it
    is chosen on probabilities the model did not train on.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    base_x, base_labels = engine.urgency.training_rows(engine.corpus())
    base_y = np.array([label in SITUATIONS for label in base_labels], dtype=int)
    rows = [(item, trace) for item, trace in traces if trace.explain.get("urgency")]
    dev_x = np.asarray(
        [engine.embedder.embed_query(_clean(engine, item.question)) for item, _ in rows],
        dtype=np.float32,
    )
    dev_y = np.array([item.expect_kind == "urgent" for item, _ in rows], dtype=int)
    near = np.array([engine.urgency.margin(v, engine.corpus())[0] >= MIN_MARGIN for v in dev_x])
    # as in UrgencyClassifier.assess: a pattern decides, a placeless "now" only near the exemplars
    patterns = [
        bool(u["pattern"] and not u["hypothetical"] and (u["pattern"] != "now" or close))
        for (_, t), close in zip(rows, near, strict=True)
        for u in [t.explain["urgency"]]
    ]
    out_of_fold = np.zeros(len(rows))
    for train, held in StratifiedKFold(5, shuffle=True, random_state=0).split(dev_x, dev_y):
        coef, intercept = fit_linear(
            np.concatenate([base_x, dev_x[train]]), np.concatenate([base_y, dev_y[train]])
        )
        z = dev_x[held] @ np.asarray(coef) + intercept
        out_of_fold[held] = np.where(near[held], 1 / (1 + np.exp(-z)), 0.0)
    scores = {}
    for step in range(1, 100):
        t = step / 100
        flagged = [p or prob >= t for p, prob in zip(patterns, out_of_fold, strict=True)]
        urgent = [f for f, y in zip(flagged, dev_y, strict=True) if y]
        others = [f for f, y in zip(flagged, dev_y, strict=True) if not y]
        recall = sum(urgent) / max(1, len(urgent))
        specificity = 1 - sum(others) / max(1, len(others))
        # recall first: a missed emergency costs more than an unneeded script
        scores[t] = 3 * recall + specificity
    coef, intercept = fit_linear(np.concatenate([base_x, dev_x]), np.concatenate([base_y, dev_y]))
    return coef, intercept, plateau_middle(scores)


def _clean(engine: Engine, text: str) -> str:
    from bot.engine import clean_question

    return clean_question(text, engine.settings.max_question_chars)


def judge_replies(items: list[Item], replies: Path, root: Path) -> list[Outcome]:
    """Judge replies written by ``bot ask --json --batch`` (of any version) against ``items``."""
    by_id = {}
    for line in replies.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_id[str(row.get("id"))] = row
    valid = project_source(root)
    out = []
    for item in items:
        row = by_id.get(item.id, {})
        cites = tuple(_citation(c) for c in row.get("citations", []))
        reply = Reply(
            question=item.question,
            language=str(row.get("language", "")),
            kind=row.get("kind", "no_answer"),
            body=str(row.get("text", "")),
            citations=cites,
            latency_ms=float(row.get("latency_ms", 0.0)),
        )
        out.append(judge(item, reply, valid))
    return out


#: Heading words of the first version's urgent scripts, and their situation's script position now.
_OLD_SCRIPTS = {
    "door": SCRIPT_INDEX["door"],
    "puerta": SCRIPT_INDEX["door"],
    "work": SCRIPT_INDEX["work"],
    "trabajo": SCRIPT_INDEX["work"],
    "took": SCRIPT_INDEX["detained"],
    "llevaron": SCRIPT_INDEX["detained"],
}


def _citation(raw: dict[str, Any]) -> Any:
    from bot.reply import Citation

    source = str(raw.get("source", ""))
    doc_id = str(raw.get("doc_id") or Path(source).stem)
    index = raw.get("section_index")
    if index is None:  # replies of the first version name an urgent script by its heading only
        heading = str(raw.get("section", "")).casefold()
        index = next((i for word, i in _OLD_SCRIPTS.items() if word in heading), -1)
    return Citation(
        n=int(raw.get("n", 0)),
        title=str(raw.get("title", "")),
        section=str(raw.get("section", "")),
        url=str(raw.get("url", "")),
        source=source,
        checked_on=str(raw.get("checked_on", "")),
        doc_id=doc_id,
        section_index=int(index),
    )

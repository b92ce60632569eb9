"""Statistics a maintainer can act on: the index's (from ``ingest``) and the bot's anonymous counts.

One report for ``/stats`` and ``python -m bot stats``: stale and unreviewed documents and coverage
per language (``ingest.store.stats``), questions the documents could not answer counted per
language and per nearest topic, and feedback per section with its reasons. Only counts and
document or section keys: no question text, no chat.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.engine import Trace
from bot.state import NO_TOPIC, REASONS, State
from ingest.settings import IndexSettings

#: Rows shown per list in the text report (the JSON has them all).
TOP = 10
#: Feedback columns in the order a maintainer reads them.
KINDS = ("helpful", "not_helpful", *REASONS)


def unanswered(trace: Trace) -> tuple[str, str] | None:
    """``(language, nearest section)`` of a question the documents could not answer, else None.

    Only the "weak" route counts: the question was searched and no section cleared the bar. An
    empty message, small talk, a declined request or an urgent script is not a gap in the
    documents. The language is the question's (detected or chosen), not the reply's, so a
    maintainer sees which languages go unanswered.
    """
    if trace.route != "weak" or trace.reply.kind != "no_answer":
        return None
    lang = str(trace.explain.get("language", {}).get("lang") or trace.reply.language)
    topic = trace.candidates[0].section.key if trace.candidates else NO_TOPIC
    return lang, topic


def index_stats(settings: IndexSettings) -> dict[str, Any]:
    """``ingest stats`` of the active index (blocking; raises ``ingest.store.IndexError_``)."""
    from ingest.store import IndexStore, stats

    return stats(IndexStore.connect(settings), stale_after_days=settings.stale_after_days)


def _document(section_key: str) -> str:
    """``en/doc-id`` of ``en/doc-id#2`` (``none`` stays ``none``)."""
    return section_key.split("#", 1)[0]


@dataclass(frozen=True)
class Counts:
    """The bot's anonymous totals, read from the state database."""

    no_answer: Mapping[tuple[str, str], int]  # (language, nearest section)
    section_feedback: Mapping[tuple[str, str], int]  # (section, kind or reason)
    document_feedback: Mapping[tuple[str, str], int]  # (document id, kind)
    chats: int | None = None  # chats with stored settings

    @classmethod
    def read(cls, state: State) -> Counts:
        """Every count (a few small queries)."""
        return cls(state.no_answers(), state.section_feedback(), state.feedback(), state.chats())

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON: totals per language, per nearest document and section, and the
        feedback per section and per document."""
        by_lang: Counter[str] = Counter()
        by_doc: Counter[str] = Counter()
        by_section: Counter[str] = Counter()
        for (lang, topic), n in self.no_answer.items():
            by_lang[lang] += n
            by_doc[_document(topic)] += n
            by_section[topic] += n
        sections: dict[str, dict[str, int]] = {}
        for (section, kind), n in sorted(self.section_feedback.items()):
            sections.setdefault(section, {})[kind] = n
        documents: dict[str, dict[str, int]] = {}
        for (doc, kind), n in sorted(self.document_feedback.items()):
            documents.setdefault(doc or "-", {})[kind] = n
        return {
            "no_answer": {
                "total": sum(by_lang.values()),
                "by_language": dict(by_lang.most_common()),
                "by_nearest_topic": dict(by_doc.most_common()),
                "by_nearest_section": dict(by_section.most_common()),
            },
            "feedback_by_section": sections,
            "feedback_by_document": documents,
            "chats_with_settings": self.chats,
        }


def report(index: Mapping[str, Any] | None, counts: Counts | None) -> dict[str, Any]:
    """The whole report as JSON (``None`` for a part that could not be read)."""
    return {"index": dict(index) if index is not None else None, **_counts_json(counts)}


def _counts_json(counts: Counts | None) -> dict[str, Any]:
    if counts is None:
        return {"no_answer": None, "feedback_by_section": None, "feedback_by_document": None}
    return counts.to_json()


def _top(counter: Mapping[str, object]) -> list[str]:
    rows = [f"  {key}: {n}" for key, n in list(counter.items())[:TOP]]
    if len(counter) > TOP:
        rows.append(f"  ... and {len(counter) - TOP} more")
    return rows or ["  none"]


def render(data: Mapping[str, Any]) -> str:
    """The report as short plain lines (for ``/stats`` and the terminal)."""
    out: list[str] = []
    index = data.get("index")
    if index is None:
        out.append("Index: unavailable (see the logs).")
    else:
        out.append(
            f"Index: {index['documents']} documents, {index['chunks']} chunks, built "
            f"{index['built_at']}, model {index['model']}."
        )
        out.append("Coverage of the English documents:")
        out += [
            f"  {lang}: {v['documents']} documents"
            + (
                f" ({v['coverage_of_english']:.0%})"
                if v.get("coverage_of_english") is not None
                else ""
            )
            for lang, v in index["languages"].items()
        ]
        if index.get("missing_in_spanish"):
            out.append("Missing in Spanish: " + ", ".join(index["missing_in_spanish"]))
        stale = index.get("stale") or []
        out.append(f"Stale (not checked in {index['stale_after_days']} days): {len(stale)}")
        out += [
            f"  {s['document']}: {s['last_verified']}"
            + (f" ({s['days']} days)" if s["days"] is not None else "")
            for s in stale[:TOP]
        ]
        out.append(f"Not reviewed by an attorney: {index['unreviewed_by_attorney']} documents")
        waiting = index.get("awaiting_native_review") or []
        out.append(f"Translations awaiting native review: {len(waiting)}")
    no_answer = data.get("no_answer")
    feedback = data.get("feedback_by_section")
    if no_answer is None or feedback is None:
        out.append("Counts: the state database is unavailable (see the logs).")
        return "\n".join(out)
    out.append(f"Questions with no answer: {no_answer['total']}")
    out.append("By language:")
    out += _top(no_answer["by_language"])
    out.append("By nearest topic:")
    out += _top(no_answer["by_nearest_topic"])
    out.append("Feedback per section (" + ", ".join(KINDS) + "):")
    rows = {
        section: " ".join(f"{kind}={votes.get(kind, 0)}" for kind in KINDS if votes.get(kind))
        for section, votes in sorted(
            feedback.items(), key=lambda item: -sum(v for k, v in item[1].items() if k != "helpful")
        )
    }
    out += _top(rows)
    person = sum(v.get("person", 0) for v in data["feedback_by_document"].values())
    out.append(f"Asked for a person: {person}")
    if data.get("chats_with_settings") is not None:
        out.append(f"Chats with stored settings: {data['chats_with_settings']}")
    return "\n".join(out)

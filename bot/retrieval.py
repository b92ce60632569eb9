"""Score every section of the searched languages for a question, with the signals the decision uses.

Three retrievers look at each section: question-to-question similarity (the resident's words
against the section's heading and ``asked:`` phrasings), passage similarity (against its text),
and BM25 (shared words, in any script). Reciprocal-rank fusion orders the sections; each
candidate carries its raw signals and features for :mod:`bot.relevance`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bot.corpus import Corpus, SectionRecord

Mode = Literal["fused", "dense", "bm25"]

#: Reciprocal-rank-fusion constant (Cormack et al., 2009: 60 is the usual value).
RRF_K = 60
#: How many fused candidates are kept and scored by the relevance model.
CANDIDATES = 12


@dataclass(frozen=True)
class Candidate:
    """A section with the evidence each retriever found for it."""

    section: SectionRecord
    score: float  # the ranking score: relevance probability when a policy is loaded, else RRF
    dense: float  # best passage similarity
    question: float  # best question-entry similarity
    bm25: float  # BM25 score (0 if no shared term)
    features: dict[str, float] = field(default_factory=dict)


def _best_per_section(
    matrix: np.ndarray,
    owner: np.ndarray,
    query: np.ndarray,
    n_sections: int,
    runs: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The highest similarity of any row owned by each section (-1 where a section has none).

    ``runs`` (where each section's rows start, when they are stored together) makes it one
    ``reduceat`` instead of ``maximum.at``, which is slow on tens of thousands of rows."""
    best = np.full(n_sections, -1.0)
    if not len(owner):
        return best
    sims = matrix @ query
    if runs is None:
        np.maximum.at(best, owner, sims)
    else:
        starts, owners = runs
        best[owners] = np.maximum(best[owners], np.maximum.reduceat(sims, starts))
    return best


def _ranks(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """1-based rank of each entry by value (descending); ``inf`` where not present."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return np.where(present, ranks, np.inf)


def search(
    corpus: Corpus,
    query_vector: Sequence[float] | None,
    question: str,
    langs: Sequence[str],
    mode: Mode = "fused",
    k: int = CANDIDATES,
) -> list[Candidate]:
    """Rank the non-urgent sections of ``langs`` for ``question``; best first, with features.

    Urgent scripts are never candidates: they are sent only when :mod:`bot.urgency` recognises a
    situation happening now, never as the ordinary answer to a question.
    """
    records: list[SectionRecord] = []
    codes: list[np.ndarray] = []
    urgent: list[np.ndarray] = []
    q_sim: list[np.ndarray] = []
    p_sim: list[np.ndarray] = []
    bm25: list[np.ndarray] = []
    query = None if query_vector is None else np.asarray(query_vector, dtype=np.float32)
    for lang in langs:
        lang_records = corpus.by_lang.get(lang, [])
        vectors = corpus.vectors.get(lang)
        if not lang_records:
            continue
        n = len(lang_records)
        records += lang_records
        codes.append(corpus.doc_codes[lang])
        urgent.append(corpus.urgent[lang])
        if query is not None and vectors is not None and mode != "bm25":
            q_sim.append(
                _best_per_section(
                    vectors.questions, vectors.question_owner, query, n, vectors.question_runs
                )
            )
            p_sim.append(
                _best_per_section(
                    vectors.passages, vectors.passage_owner, query, n, vectors.passage_runs
                )
            )
        else:
            q_sim.append(np.full(n, -1.0))
            p_sim.append(np.full(n, -1.0))
        bm25.append(corpus.bm25_scores(question, lang) if mode != "dense" else np.zeros(n))
    if not records:
        return []
    q, p, b = np.concatenate(q_sim), np.concatenate(p_sim), np.concatenate(bm25)
    allowed = ~np.concatenate(urgent)
    q, p, b = np.where(allowed, q, -1.0), np.where(allowed, p, -1.0), np.where(allowed, b, 0.0)
    rank_q, rank_p = _ranks(q, allowed & (q > -1)), _ranks(p, allowed & (p > -1))
    rank_b = _ranks(b, allowed & (b > 0))
    fused = 1 / (RRF_K + rank_q) + 1 / (RRF_K + rank_p) + 1 / (RRF_K + rank_b)
    order = [i for i in np.argsort(-fused, kind="stable") if allowed[i] and fused[i] > 0][:k]
    docs = np.concatenate(codes)  # a number per document (lang/id)
    top_b = float(b.max()) if len(b) else 0.0
    has_terms = float(top_b > 0)
    out: list[Candidate] = []
    for i in order:
        other = docs != docs[i]
        features = {
            "question": float(q[i]),
            "passage": float(p[i]),
            "question_margin": float(q[i] - (q[other].max() if other.any() else -1.0)),
            "passage_margin": float(p[i] - (p[other].max() if other.any() else -1.0)),
            "bm25_log": math.log1p(float(b[i])),
            "bm25_share": float(b[i]) / top_b if top_b > 0 else 0.0,
            "has_terms": has_terms,
            "agree": float((rank_q[i] == 1) + (rank_p[i] == 1) + (rank_b[i] == 1)) / 3,
            "fused_rank": 1.0 / (1 + len(out)),
        }
        out.append(
            Candidate(records[i], float(fused[i]), float(p[i]), float(q[i]), float(b[i]), features)
        )
    return out

"""Hybrid retrieval over one language's sections: dense (Chroma) and BM25, fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.corpus import Corpus, SectionRecord
from ingest.store import IndexStore

Mode = Literal["fused", "dense", "bm25"]

#: Reciprocal-rank-fusion constant and per-retriever weights. k=60 is the usual constant (Cormack et
#: al., 2009). A sweep on the evaluation set (k 10/30/60, dense weight 1/1.5/2) found k=30 and 60
#: equal and above k=10; a dense weight of 2 gained one or two questions, too few on this small set
#: to justify tuning, so the weights stay equal.
RRF_K = 60
WEIGHTS = {"dense": 1.0, "bm25": 1.0}
CANDIDATES = 24


@dataclass(frozen=True)
class Candidate:
    """A section with the evidence each retriever found for it."""

    section: SectionRecord
    score: float  # the fused (or single-retriever) ranking score
    dense: float  # best cosine similarity of its chunks (0 if not among dense hits)
    bm25: float  # BM25 score (0 if no shared term)


def search(
    corpus: Corpus,
    store: IndexStore,
    query_vector: list[float] | None,
    question: str,
    lang: str,
    mode: Mode = "fused",
    k: int = CANDIDATES,
) -> list[Candidate]:
    """Rank the sections of ``lang`` for ``question``; best first."""
    dense: dict[str, float] = {}
    if mode != "bm25" and query_vector is not None:
        for hit in store.search(corpus.info, query_vector, lang, k):
            key = corpus.chunk_section.get(hit.chunk.id)
            if key is not None and hit.score > dense.get(key, -1.0):
                dense[key] = hit.score
    lexical: dict[str, float] = {}
    if mode != "dense":
        lexical = {r.key: s for r, s in corpus.bm25(question, lang, k)}

    fused: dict[str, float] = {}
    if mode in ("fused", "dense"):
        for rank, key in enumerate(sorted(dense, key=lambda x: -dense[x]), 1):
            fused[key] = fused.get(key, 0.0) + WEIGHTS["dense"] / (RRF_K + rank)
    if mode in ("fused", "bm25"):
        for rank, key in enumerate(sorted(lexical, key=lambda x: -lexical[x]), 1):
            fused[key] = fused.get(key, 0.0) + WEIGHTS["bm25"] / (RRF_K + rank)
    ranked = sorted(fused, key=lambda key: (-fused[key], -dense.get(key, 0.0)))
    return [
        Candidate(corpus.sections[key], fused[key], dense.get(key, 0.0), lexical.get(key, 0.0))
        for key in ranked
    ]

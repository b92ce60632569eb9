"""The lexical side of the index: how text becomes BM25 terms, and Okapi BM25 stored as arrays.

Ingest fits :class:`LexicalIndex` once per index generation and stores its arrays with it, so the
bot scores a question without re-tokenising any section. The tokenizer lives here (and the bot
imports it) because the terms of the stored index and of a question must be cut the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
#: Scripts written without spaces: a run of these characters is indexed as overlapping bigrams.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "im",
        "i'm",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "u",
        "ur",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "unos",
        "unas",
        "y",
        "o",
        "de",
        "del",
        "al",
        "en",
        "por",
        "para",
        "con",
        "que",
        "se",
        "su",
        "sus",
        "lo",
        "le",
        "les",
        "mi",
        "mis",
        "me",
        "es",
        "son",
        "como",
        "qué",
        "si",
        "no",
        "ya",
        "muy",
        "mas",
        "más",
        "pero",
        "tu",
        "te",
        "nos",
        "este",
        "esta",
        "esto",
        "eso",
        "esa",
        "ese",
        "hay",
        "pa",
        "pues",
    ]
)


def fold(text: str) -> str:
    """Lowercase and strip accents, so "policía" and "policia" match."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """BM25 tokens: folded words (any script) minus stop-words, with a light plural strip."""
    tokens = []
    for token in TOKEN.findall(fold(text)):
        if token in _STOPWORDS:
            continue
        if _CJK.match(token):
            tokens += [token[i : i + 2] for i in range(max(1, len(token) - 1))]
            continue
        if len(token) > 4 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        tokens.append(token)
    return tokens


@dataclass(frozen=True)
class LexicalIndex:
    """Okapi BM25 over one language's sections (one document per section), as flat arrays.

    rank_bm25 fits it (its idf, with the floor it puts under negative idf, and its average length),
    but its ``get_scores`` loops in Python over every document for every query term (tens of
    milliseconds per question at 100 times today's corpus) and it can only be stored by pickling.
    So the fitted values are kept as arrays, the term frequencies as a term-major sparse matrix,
    and :meth:`scores` applies rank_bm25's formula, operation for operation, to the postings of the
    query's terms only: the scores are the same numbers (a test compares them with rank_bm25's).
    """

    terms: tuple[str, ...]
    idf: np.ndarray  # (terms,) float64
    postings_start: np.ndarray  # (terms + 1,) int64: term t's postings are [start[t], start[t+1])
    postings_doc: np.ndarray  # int32 section positions
    postings_tf: np.ndarray  # int32 term frequencies
    doc_len: np.ndarray  # (sections,) int64
    avgdl: float
    k1: float = 1.5
    b: float = 0.75

    @classmethod
    def fit(cls, documents: Sequence[Sequence[str]]) -> LexicalIndex:
        """Fit on tokenised documents (rank_bm25 computes idf and lengths)."""
        if not documents:
            empty = np.zeros(0, dtype=np.int64)
            return cls((), np.zeros(0), np.zeros(1, dtype=np.int64), empty, empty, empty, 1.0)
        bm25 = BM25Okapi([list(d) for d in documents])
        terms = tuple(sorted(bm25.idf))
        ids = {t: i for i, t in enumerate(terms)}
        per_term: list[list[tuple[int, int]]] = [[] for _ in terms]
        for doc, freqs in enumerate(bm25.doc_freqs):
            for term, tf in freqs.items():
                per_term[ids[term]].append((doc, tf))
        start = np.zeros(len(terms) + 1, dtype=np.int64)
        start[1:] = np.cumsum([len(p) for p in per_term])
        flat = [pair for postings in per_term for pair in postings]
        return cls(
            terms=terms,
            idf=np.asarray([bm25.idf[t] for t in terms], dtype=np.float64),
            postings_start=start,
            postings_doc=np.asarray([d for d, _ in flat], dtype=np.int32),
            postings_tf=np.asarray([f for _, f in flat], dtype=np.int32),
            doc_len=np.asarray(bm25.doc_len, dtype=np.int64),
            avgdl=float(bm25.avgdl),
            k1=float(bm25.k1),
            b=float(bm25.b),
        )

    @property
    def size(self) -> int:
        """Number of documents (sections)."""
        return len(self.doc_len)

    def scores(self, query: Sequence[str], term_ids: Mapping[str, int]) -> np.ndarray:
        """BM25 score of every document for the query tokens (``term_ids``: :meth:`term_ids`)."""
        score = np.zeros(self.size)
        if not self.size:
            return score
        # rank_bm25's expression, in its order, so every float matches
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)
        for q in query:
            t = term_ids.get(q)
            if t is None:
                continue  # rank_bm25 adds 0 * (0 / norm) = 0 for a term it has never seen
            lo, hi = self.postings_start[t], self.postings_start[t + 1]
            q_freq = np.zeros(self.size, dtype=np.int64)
            q_freq[self.postings_doc[lo:hi]] = self.postings_tf[lo:hi]
            score += (float(self.idf[t]) or 0) * (q_freq * (self.k1 + 1) / (q_freq + norm))
        return score

    def term_ids(self) -> dict[str, int]:
        """Term -> position (built once per load)."""
        return {t: i for i, t in enumerate(self.terms)}

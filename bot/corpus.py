"""An in-memory snapshot of the active index: its sections, vectors, per-language BM25, catalogue.

Built from the chunks stored in Chroma, so the bot answers from exactly what was ingested. The
vectors of every passage and question entry are kept as one matrix per language: scoring every
section exactly (a dot product over a few thousand rows, well under a millisecond) gives the
relevance decision signals an approximate top-k query cannot (the runner-up, the margin, agreement).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ingest.lexical import TOKEN, LexicalIndex, fold, tokenize
from ingest.snapshot import SectionRecord, Snapshot, build_snapshot
from ingest.store import IndexInfo, StoredChunk

__all__ = [
    "SYNONYMS",
    "Corpus",
    "DocumentInfo",
    "SectionInfo",
    "SectionRecord",
    "Vectors",
    "expand",
    "fold",
    "tokenize",
]


#: Everyday words residents use for terms the documents spell out (query side only). BM25 cannot
#: know that "cpd" means the Chicago police or that "troca" is a car; the embeddings miss slang too.
SYNONYMS = {
    "cpd": "chicago police",
    "cop": "police",
    "cops": "police",
    "5-0": "police",
    "migra": "inmigracion ice",
    "feds": "federal agents",
    "la poli": "policia",
    "troca": "carro",
    "troka": "carro",
    "carro": "carro vehiculo",
    "car": "car vehicle",
    "papers": "papers documents status",
    "papeles": "papeles documentos estatus",
    "undocumented": "undocumented status",
    "indocumentado": "indocumentado estatus",
    "legal": "legal status",
    "illegal": "status undocumented",
    "ilegal": "estatus indocumentado",
    "lawyer": "lawyer attorney",
    "abogado": "abogado",
    "jail": "jail custody",
    "carcel": "carcel custodia",
    "locked": "custody detained",
    "lockup": "custody jail",
    "kicked": "deported removal",
    "deported": "deported removal",
    "deportar": "deportacion",
    "pulled": "traffic stop",
    "licencia": "licencia manejo",
    "license": "license driver",
    "boss": "employer work",
    "patron": "empleador trabajo",
    "chamba": "trabajo",
    "daycare": "day-care",
    "guarderia": "guarderia",
}


def expand(text: str) -> str:
    """Add the document-language terms for slang and abbreviations in a question."""
    words = TOKEN.findall(fold(text))
    extra = [SYNONYMS[w] for w in words if w in SYNONYMS]
    return " ".join([text, *extra])


@dataclass(frozen=True)
class SectionInfo:
    """A section as listed in the catalogue."""

    index: int
    heading: str


@dataclass(frozen=True)
class DocumentInfo:
    """A document (a topic) as listed in the catalogue."""

    id: str
    lang: str
    title: str
    summary: str
    checked_on: str
    url: str
    source: str
    urgent: bool
    sections: tuple[SectionInfo, ...]


@dataclass(frozen=True)
class Vectors:
    """The vectors of one language: passages and question entries, each row owned by a section."""

    passages: np.ndarray  # (n, dim) float32, L2-normalised
    passage_owner: np.ndarray  # (n,) section position in ``Corpus.by_lang[lang]``
    questions: np.ndarray
    question_owner: np.ndarray
    passage_runs: tuple[np.ndarray, np.ndarray] | None = field(init=False, default=None)
    question_runs: tuple[np.ndarray, np.ndarray] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passage_runs", _runs(self.passage_owner))
        object.__setattr__(self, "question_runs", _runs(self.question_owner))


def _runs(owner: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Where each owner's run of rows starts, and its owner, when rows are grouped by owner (they
    are: a section's rows are stored together), so a per-section maximum is one ``reduceat``."""
    if not len(owner) or bool(np.any(owner[1:] < owner[:-1])):
        return None
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return starts, owner[starts]


class Corpus:
    """Sections of one index generation, grouped by language, with vectors and BM25 per language.

    Built from a :class:`~ingest.snapshot.Snapshot` (stored with the generation at ingest), or from
    the generation's chunks when it has none (the same computation, done at load).
    """

    def __init__(self, info: IndexInfo, chunks: Iterable[StoredChunk]) -> None:
        self._adopt(info, build_snapshot(info.collection, chunks))

    @classmethod
    def from_snapshot(cls, info: IndexInfo, snapshot: Snapshot) -> Corpus:
        """The corpus of a stored snapshot (nothing is re-tokenised)."""
        corpus = cls.__new__(cls)
        corpus._adopt(info, snapshot)
        return corpus

    def _adopt(self, info: IndexInfo, snapshot: Snapshot) -> None:
        self.info = info
        self.by_lang: dict[str, list[SectionRecord]] = {
            lang: list(part.records) for lang, part in sorted(snapshot.languages.items())
        }
        self.sections: dict[str, SectionRecord] = {
            r.key: r for records in self.by_lang.values() for r in records
        }
        self.position = {
            r.key: i for records in self.by_lang.values() for i, r in enumerate(records)
        }
        self.vectors: dict[str, Vectors] = {}
        for lang, part in sorted(snapshot.languages.items()):
            if part.passages is not None and part.questions is not None:
                self.vectors[lang] = Vectors(
                    part.passages, part.passage_owner, part.questions, part.question_owner
                )
        # per language, in ``by_lang`` order: a number per document, and which sections are urgent
        codes: dict[str, int] = {}
        self.doc_codes: dict[str, np.ndarray] = {
            lang: np.asarray(
                [codes.setdefault(f"{r.lang}/{r.doc_id}", len(codes)) for r in records],
                dtype=np.int64,
            )
            for lang, records in self.by_lang.items()
        }
        self.urgent: dict[str, np.ndarray] = {
            lang: np.asarray([r.urgent for r in records], dtype=bool)
            for lang, records in self.by_lang.items()
        }
        self._lexical: dict[str, tuple[LexicalIndex, dict[str, int]]] = {
            lang: (part.lexical, part.lexical.term_ids())
            for lang, part in snapshot.languages.items()
        }

    @property
    def chunk_section(self) -> dict[str, str]:
        """Chunk id -> the key of the section it belongs to."""
        return {cid: r.key for r in self.sections.values() for cid in r.chunk_ids}

    @property
    def languages(self) -> list[str]:
        """Languages present in the index."""
        return sorted(self.by_lang)

    def bm25_scores(self, query: str, lang: str) -> np.ndarray:
        """BM25 score of every section of ``lang`` (in ``by_lang`` order); zeros without terms."""
        records = self.by_lang.get(lang, [])
        tokens = tokenize(expand(query))
        if not records or not tokens:
            return np.zeros(len(records))
        index, term_ids = self._lexical[lang]
        return np.asarray(index.scores(tokens, term_ids), dtype=float)

    def section(self, lang: str, doc_id: str, index: int) -> SectionRecord | None:
        """One section by document id and position."""
        return self.sections.get(f"{lang}/{doc_id}#{index}")

    def documents(self, lang: str) -> list[DocumentInfo]:
        """The catalogue of one language, in a stable order (urgent first, then by title)."""
        docs: dict[str, list[SectionRecord]] = {}
        for record in self.by_lang.get(lang, []):
            docs.setdefault(record.doc_id, []).append(record)
        out = []
        for doc_id, records in docs.items():
            first = records[0]
            out.append(
                DocumentInfo(
                    id=doc_id,
                    lang=lang,
                    title=first.title,
                    summary=first.summary,
                    checked_on=first.checked_on,
                    url=first.url,
                    source=first.source,
                    urgent=first.urgent,
                    sections=tuple(SectionInfo(r.index, r.heading) for r in records),
                )
            )
        return sorted(out, key=lambda d: (not d.urgent, d.title.lower()))

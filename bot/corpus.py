"""An in-memory snapshot of the active index: its sections, vectors, per-language BM25, catalogue.

Built from the chunks stored in Chroma, so the bot answers from exactly what was ingested. The
vectors of every passage and question entry are kept as one matrix per language: scoring every
section exactly (a dot product over a few thousand rows, well under a millisecond) gives the
relevance decision signals an approximate top-k query cannot (the runner-up, the margin, agreement).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from ingest.record import ChunkMeta
from ingest.store import IndexInfo, StoredChunk

_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
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
    words = _TOKEN.findall(fold(text))
    extra = [SYNONYMS[w] for w in words if w in SYNONYMS]
    return " ".join([text, *extra])


def tokenize(text: str) -> list[str]:
    """BM25 tokens: folded words (any script) minus stop-words, with a light plural strip."""
    tokens = []
    for token in _TOKEN.findall(fold(text)):
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
class SectionRecord:
    """One citable section with the metadata a citation needs."""

    key: str  # "lang/doc_id#section_index"
    lang: str
    doc_id: str
    index: int
    title: str
    heading: str
    text: str
    url: str  # the section's own first source
    source: str
    checked_on: str
    summary: str
    urgent: bool
    chunk_ids: tuple[str, ...]
    source_title: str = ""
    awaiting_native_review: bool = False
    jurisdiction: str = (
        ""  # the document's: Chicago | Cook County | Illinois | United States | General
    )


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


class Corpus:
    """Sections of one index generation, grouped by language, with vectors and BM25 per language."""

    def __init__(self, info: IndexInfo, chunks: Iterable[StoredChunk]) -> None:
        self.info = info
        grouped: dict[str, list[StoredChunk]] = {}
        asked: dict[str, list[StoredChunk]] = {}
        metas: dict[str, ChunkMeta] = {}
        for chunk in chunks:
            m = metas[chunk.id] = ChunkMeta.from_chroma(chunk.metadata)
            (asked if m.is_question else grouped).setdefault(m.section_key, []).append(chunk)
        self.sections: dict[str, SectionRecord] = {}
        self.chunk_section: dict[str, str] = {}
        for key, parts in grouped.items():
            parts.sort(key=lambda c: metas[c.id].chunk_index)
            m = metas[parts[0].id]
            first = m.first_source
            self.sections[key] = SectionRecord(
                key=key,
                lang=m.lang,
                doc_id=m.doc_id,
                index=m.section_index,
                title=m.title,
                heading=m.section,
                text=_join_chunks([p.text for p in parts]),
                url=first.url if first else "",
                source=m.path,
                checked_on=m.last_verified,
                summary=m.summary,
                urgent=m.urgent,
                chunk_ids=tuple(p.id for p in parts),
                source_title=first.title if first else "",
                awaiting_native_review=m.awaiting_native_review,
                jurisdiction=m.jurisdiction,
            )
            for part in parts:
                self.chunk_section[part.id] = key
        self.by_lang: dict[str, list[SectionRecord]] = {}
        for record in sorted(self.sections.values(), key=lambda r: (r.lang, r.doc_id, r.index)):
            self.by_lang.setdefault(record.lang, []).append(record)
        self.position = {
            r.key: i for records in self.by_lang.values() for i, r in enumerate(records)
        }
        self.vectors: dict[str, Vectors] = {}
        for lang, records in self.by_lang.items():
            passages = [(self.position[r.key], c) for r in records for c in grouped[r.key]]
            questions = [(self.position[r.key], c) for r in records for c in asked.get(r.key, [])]
            if all(c.vector is not None for _, c in passages + questions):
                self.vectors[lang] = Vectors(*_matrix(passages), *_matrix(questions))
        self._bm25 = {
            lang: BM25Okapi(
                [
                    tokenize(
                        "\n".join([r.heading, r.heading, *_texts(asked.get(r.key, [])), r.text])
                    )
                    for r in records
                ]
            )
            for lang, records in self.by_lang.items()
        }

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
        return np.asarray(self._bm25[lang].get_scores(tokens), dtype=float)

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


def _texts(chunks: list[StoredChunk]) -> list[str]:
    return [c.text for c in chunks]


def _matrix(rows: list[tuple[int, StoredChunk]]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros((0, 1), dtype=np.float32), np.zeros(0, dtype=np.int64)
    matrix = np.asarray([c.vector for _, c in rows], dtype=np.float32)
    return matrix, np.asarray([owner for owner, _ in rows], dtype=np.int64)


def _join_chunks(texts: list[str]) -> str:
    """Rejoin a section's chunks, dropping the overlap the splitter repeated."""
    out = texts[0]
    for text in texts[1:]:
        overlap = 0
        for size in range(min(len(out), len(text)), 0, -1):
            if out.endswith(text[:size]):
                overlap = size
                break
        out = out + ("" if overlap else "\n") + text[overlap:]
    return out

"""An in-memory snapshot of the active index: its sections, per-language BM25, and the catalogue.

Built from the chunks stored in Chroma, so the bot answers from exactly what was ingested.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from ingest.store import IndexInfo, StoredChunk

_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
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
    """BM25 tokens: folded words minus stop-words, with a light plural strip."""
    tokens = []
    for token in _TOKEN.findall(fold(text)):
        if token in _STOPWORDS:
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
    url: str
    source: str
    checked_on: str
    summary: str
    urgent: bool
    chunk_ids: tuple[str, ...]


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


class Corpus:
    """Sections of one index generation, grouped by language, with a BM25 model per language."""

    def __init__(self, info: IndexInfo, chunks: Iterable[StoredChunk]) -> None:
        self.info = info
        grouped: dict[str, list[StoredChunk]] = {}
        for chunk in chunks:
            m = chunk.metadata
            grouped.setdefault(f"{m['lang']}/{m['doc_id']}#{m['section_index']}", []).append(chunk)
        self.sections: dict[str, SectionRecord] = {}
        self.chunk_section: dict[str, str] = {}
        for key, parts in grouped.items():
            parts.sort(key=lambda c: int(c.metadata.get("chunk_index", 0)))
            m = parts[0].metadata
            self.sections[key] = SectionRecord(
                key=key,
                lang=str(m["lang"]),
                doc_id=str(m["doc_id"]),
                index=int(m["section_index"]),
                title=str(m["title"]),
                heading=str(m["section"]),
                text=_join_chunks([p.text for p in parts]),
                url=best_source(
                    f"{m['section']}\n{_join_chunks([p.text for p in parts])}",
                    str(m.get("source_titles", "")).split("\n"),
                    str(m.get("source_urls", "")).split("\n"),
                ),
                source=str(m.get("path", "")),
                checked_on=str(m.get("last_verified", "")),
                summary=str(m.get("summary", "")),
                urgent=bool(m.get("urgent", False)),
                chunk_ids=tuple(p.id for p in parts),
            )
            for part in parts:
                self.chunk_section[part.id] = key
        self.by_lang: dict[str, list[SectionRecord]] = {}
        for record in sorted(self.sections.values(), key=lambda r: (r.lang, r.doc_id, r.index)):
            self.by_lang.setdefault(record.lang, []).append(record)
        self._bm25 = {
            lang: BM25Okapi([tokenize(f"{r.heading}\n{r.heading}\n{r.text}") for r in records])
            for lang, records in self.by_lang.items()
        }

    @property
    def languages(self) -> list[str]:
        """Languages present in the index."""
        return sorted(self.by_lang)

    def bm25(self, query: str, lang: str, k: int) -> list[tuple[SectionRecord, float]]:
        """Top sections of ``lang`` by BM25 score (only those sharing a term with the query)."""
        records = self.by_lang.get(lang, [])
        tokens = tokenize(expand(query))
        if not records or not tokens:
            return []
        scores = self._bm25[lang].get_scores(tokens)
        ranked = sorted(zip(records, scores, strict=True), key=lambda p: -p[1])
        return [(r, float(s)) for r, s in ranked[:k] if s > 0]

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


_CITE = re.compile(r"\d+(?:[-/.]\d+)+[a-z]?|\d{2,}|[A-Z]{2,}\s?\d+")


def best_source(section_text: str, titles: list[str], urls: list[str]) -> str:
    """The document source that best matches a section (shared legal citations, then words).

    Documents list several primary sources; a citation should link to the one the quoted
    section rests on, not always the first.
    """
    if not urls or not urls[0]:
        return ""
    found = [(m.start(), m.group()) for m in _CITE.finditer(section_text)]
    text_words = set(tokenize(section_text))
    best, best_score = urls[0], (-len(section_text), 0)
    for title, url in zip(titles, urls, strict=False):
        label = set(_CITE.findall(f"{title} {url}"))
        first = min((pos for pos, cite in found if cite in label), default=len(section_text))
        score = (-first, len(text_words & set(tokenize(title))))
        if score > best_score:
            best, best_score = url, score
    return best


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

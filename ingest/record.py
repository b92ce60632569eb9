"""The one contract between ingest and the bot: a chunk's metadata as a typed record.

Chroma stores flat scalar metadata, so the record converts itself to and from that form in one
place: ingest writes :meth:`ChunkMeta.to_chroma`, the bot reads :meth:`ChunkMeta.from_chroma`.
The stored keys and encodings (a section's sources as newline-joined lists, topics comma-joined)
are unchanged from the first version, so existing indexes read back the same and nothing is
re-embedded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: What Chroma accepts as a metadata value.
Scalar = str | int | float | bool
ChunkKind = Literal["passage", "question"]
PASSAGE: ChunkKind = "passage"
QUESTION: ChunkKind = "question"


@dataclass(frozen=True)
class SourceRef:
    """A source as a citation shows it."""

    url: str
    title: str
    kind: str


@dataclass(frozen=True)
class ChunkMeta:
    """Everything stored with one index entry (a passage of a section, or a question pointing to
    it). ``sources`` are the section's own, in its order: the first is the one a citation links."""

    doc_id: str
    lang: str
    title: str
    section: str
    section_index: int
    kind: ChunkKind
    chunk_index: int
    sources: tuple[SourceRef, ...]
    jurisdiction: str
    topics: tuple[str, ...]
    summary: str
    last_verified: str  # YYYY-MM-DD
    path: str
    urgent: bool = False
    reviewer: str = ""
    awaiting_native_review: bool = False
    hash: str = ""  # of the text and the other fields: unchanged means nothing to rewrite
    embed_hash: str = ""  # of what was embedded: unchanged means the vector can be reused

    @property
    def doc_key(self) -> str:
        """``lang/doc_id``."""
        return f"{self.lang}/{self.doc_id}"

    @property
    def section_key(self) -> str:
        """``lang/doc_id#section_index``: the section this entry belongs to."""
        return f"{self.doc_key}#{self.section_index}"

    @property
    def is_question(self) -> bool:
        """True for a heading or an ``asked:`` phrasing (matched, never quoted)."""
        return self.kind == QUESTION

    @property
    def first_source(self) -> SourceRef | None:
        """The source a citation links."""
        return self.sources[0] if self.sources else None

    def to_chroma(self) -> dict[str, Scalar]:
        """The flat metadata Chroma stores (``hash``/``embed_hash`` only when set)."""
        data: dict[str, Scalar] = {
            "doc_id": self.doc_id,
            "lang": self.lang,
            "title": self.title,
            "section": self.section,
            "section_index": self.section_index,
            "kind": self.kind,
            "chunk_index": self.chunk_index,
            "source_urls": "\n".join(s.url for s in self.sources),
            "source_titles": "\n".join(s.title for s in self.sources),
            "source_kinds": "\n".join(s.kind for s in self.sources),
            "jurisdiction": self.jurisdiction,
            "topics": ",".join(self.topics),
            "summary": self.summary,
            "last_verified": self.last_verified,
            "path": self.path,
            "urgent": self.urgent,
            "reviewer": self.reviewer,
            "awaiting_native_review": self.awaiting_native_review,
        }
        if self.hash:
            data["hash"] = self.hash
        if self.embed_hash:
            data["embed_hash"] = self.embed_hash
        return data

    @classmethod
    def from_chroma(cls, data: Mapping[str, Any]) -> ChunkMeta:
        """Read back what :meth:`to_chroma` wrote (missing optional fields take their defaults)."""
        urls = _lines(data.get("source_urls"))
        titles = _lines(data.get("source_titles"))
        kinds = _lines(data.get("source_kinds"))
        sources = tuple(
            SourceRef(url, titles[i] if i < len(titles) else "", kinds[i] if i < len(kinds) else "")
            for i, url in enumerate(urls)
        )
        kind: ChunkKind = QUESTION if data.get("kind") == QUESTION else PASSAGE
        topics = str(data.get("topics") or "")
        return cls(
            doc_id=str(data["doc_id"]),
            lang=str(data["lang"]),
            title=str(data.get("title", "")),
            section=str(data.get("section", "")),
            section_index=int(data.get("section_index", 0)),
            kind=kind,
            chunk_index=int(data.get("chunk_index", 0)),
            sources=sources,
            jurisdiction=str(data.get("jurisdiction", "")),
            topics=tuple(t for t in topics.split(",") if t),
            summary=str(data.get("summary") or ""),
            last_verified=str(data.get("last_verified", "")),
            path=str(data.get("path", "")),
            urgent=bool(data.get("urgent", False)),
            reviewer=str(data.get("reviewer") or ""),
            awaiting_native_review=bool(data.get("awaiting_native_review", False)),
            hash=str(data.get("hash") or ""),
            embed_hash=str(data.get("embed_hash") or ""),
        )


def _lines(value: Any) -> list[str]:
    return str(value).split("\n") if value else []

"""Split sections into chunks that never span two sections, each carrying its citation metadata.

A section becomes two kinds of index entries:
- ``passage`` chunks: its text (split only when long), embedded as passages and quoted;
- ``question`` entries: its heading and every ``asked:`` phrasing, each embedded as a question
  and pointing to the section, so a resident's wording is matched question to question. They are
  never quoted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.record import PASSAGE, QUESTION, ChunkKind, ChunkMeta, SourceRef
from ingest.schema import Chunk, Document, Section, content_hash

#: Sections are written to be short; this only splits the rare long one (or a PDF page).
CHUNK_SIZE = 1200
CHUNK_OVERLAP = 150
__all__ = ["PASSAGE", "QUESTION", "chunk_documents", "chunk_meta", "embedding_text", "is_question"]


def chunk_documents(documents: Iterable[Document]) -> list[Chunk]:
    """Chunk every section of every document, in document order."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, separators=["\n\n", "\n", ". ", " "]
    )
    chunks: list[Chunk] = []
    for doc in documents:
        for s_index, section in enumerate(doc.sections):
            pieces: list[tuple[ChunkKind, str]] = [
                (PASSAGE, p) for p in splitter.split_text(section.text)
            ]
            questions = dict.fromkeys([section.heading, *section.asked])  # in order, no repeats
            pieces += [(QUESTION, q) for q in questions]
            counters = {PASSAGE: 0, QUESTION: 0}
            for kind, piece in pieces:
                index = counters[kind]
                counters[kind] += 1
                record = chunk_meta(doc, section, s_index, kind, index)
                metadata = record.to_chroma()
                metadata["hash"] = content_hash(piece, metadata)
                suffix = f"{index}" if kind == PASSAGE else f"q{index}"
                chunk_id = f"{doc.meta.lang}/{doc.meta.id}#{s_index}.{suffix}"
                chunks.append(Chunk(id=chunk_id, text=piece, metadata=metadata))
    return chunks


def chunk_meta(
    doc: Document, section: Section, index: int, kind: ChunkKind, chunk_index: int
) -> ChunkMeta:
    """The typed metadata of one index entry of a section."""
    meta = doc.meta
    # the section's own sources, in its order (the first is the one a citation links); a section
    # without a `sources:` line (only outside `ingest check`) falls back to the document's list
    ids = list(section.sources) or [s.id for s in meta.sources]
    sources = [s for i in ids if (s := meta.source(i)) is not None]
    return ChunkMeta(
        doc_id=meta.id,
        lang=meta.lang,
        title=meta.title,
        section=section.heading,
        section_index=index,
        kind=kind,
        chunk_index=chunk_index,
        sources=tuple(SourceRef(str(s.url), s.title, s.kind) for s in sources),
        jurisdiction=meta.jurisdiction,
        topics=tuple(meta.topics),
        summary=meta.summary or "",
        last_verified=meta.last_verified.isoformat(),
        path=doc.path,
        urgent=meta.urgent,
        reviewer=meta.reviewer or "",
        awaiting_native_review=meta.awaiting_native_review,
    )


def is_question(chunk_metadata: Mapping[str, object]) -> bool:
    """True for a question entry (a heading or an ``asked:`` phrasing), False for a passage."""
    return chunk_metadata.get("kind") == QUESTION


def embedding_text(text: str, heading: str, kind: object = PASSAGE) -> str:
    """What is embedded: a passage with its heading (a resident's question), or a question alone."""
    return text if kind == QUESTION else f"{heading}\n{text}"

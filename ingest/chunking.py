"""Split sections into chunks that never span two sections, each carrying its citation metadata."""

from __future__ import annotations

from collections.abc import Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.schema import Chunk, Document, content_hash

#: Sections are written to be short; this only splits the rare long one (or a PDF page).
CHUNK_SIZE = 1200
CHUNK_OVERLAP = 150


def chunk_documents(documents: Iterable[Document]) -> list[Chunk]:
    """Chunk every section of every document, in document order."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, separators=["\n\n", "\n", ". ", " "]
    )
    chunks: list[Chunk] = []
    for doc in documents:
        meta = doc.meta
        for s_index, section in enumerate(doc.sections):
            for c_index, piece in enumerate(splitter.split_text(section.text)):
                metadata: dict[str, str | int | float | bool] = {
                    "doc_id": meta.id,
                    "lang": meta.lang,
                    "title": meta.title,
                    "section": section.heading,
                    "section_index": s_index,
                    "chunk_index": c_index,
                    "source_urls": "\n".join(str(s.url) for s in meta.sources),
                    "source_titles": "\n".join(s.title for s in meta.sources),
                    "jurisdiction": meta.jurisdiction,
                    "topics": ",".join(meta.topics),
                    "summary": meta.summary or "",
                    "last_verified": meta.last_verified.isoformat(),
                    "path": doc.path,
                    "urgent": meta.urgent,
                    "reviewer": meta.reviewer or "",
                }
                metadata["hash"] = content_hash(piece, metadata)
                chunk_id = f"{meta.lang}/{meta.id}#{s_index}.{c_index}"
                chunks.append(Chunk(id=chunk_id, text=piece, metadata=metadata))
    return chunks


def embedding_text(chunk_text: str, heading: str) -> str:
    """What is embedded for a chunk: its section heading (a resident's question) and its text."""
    return f"{heading}\n{chunk_text}"

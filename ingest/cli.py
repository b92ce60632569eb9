"""The ingest command line: ``python -m ingest [build|check|stats|query]``."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from ingest.check import CheckReport, check
from ingest.chunking import chunk_documents
from ingest.embedder import EmbeddingModelError, LocalEmbeddings, resolve_model_dir
from ingest.lock import IngestBusy, ingest_lock
from ingest.settings import IndexSettings
from ingest.store import IndexError_, IndexStore, SyncPlan, dumps, stats


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _settings(ctx: click.Context) -> IndexSettings:
    settings = ctx.obj
    assert isinstance(settings, IndexSettings)
    return settings


def _embedder(settings: IndexSettings) -> LocalEmbeddings:
    return LocalEmbeddings(
        settings.embedding_model, settings.embedding_backend, settings.model_cache_dir
    )


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
    started = time.perf_counter()
    report = check(folder or settings.knowledge_dir, settings)
    if not report.ok:
        _print_errors(report)
        _fail(f"{len(report.errors)} document(s) have errors; the index was not changed")
    try:
        _, model_name = resolve_model_dir(settings.embedding_model)
        with ingest_lock(settings.lock_path):
            store = IndexStore.connect(settings)
            chunks = chunk_documents(report.documents)
            plan = store.plan(chunks, model_name, rebuild=rebuild)
            if dry_run:
                click.echo("dry run: nothing was changed")
                click.echo(_summary(plan, time.perf_counter() - started))
                return
            if not plan.has_changes:
                click.echo(_summary(plan, time.perf_counter() - started))
                return
            embedder = _embedder(settings)
            info = store.apply(
                plan, chunks, embedder.embed_documents, model_name, _progress(len(plan.to_embed))
            )
    except (IngestBusy, IndexError_, EmbeddingModelError) as err:
        _fail(str(err))
    click.echo(_summary(plan, time.perf_counter() - started))
    click.echo(f"index {info.collection}: {info.documents} documents, {info.chunks} chunks")


def _progress(total: int) -> Callable[[int], None] | None:
    """A progress callback: a bar on a terminal, nothing otherwise."""
    if total == 0 or not sys.stderr.isatty():
        return None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("embedding", total=total)
    bar.start()

    def advance(n: int) -> None:
        bar.advance(task, n)
        if bar.finished:
            bar.stop()

    return advance


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
        embedder = _embedder(settings)
        store = IndexStore.connect(settings)
        info = store.require_active(embedder.model_name)
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

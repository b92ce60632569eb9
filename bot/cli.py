"""The bot's command line: ``python -m bot [ask|chat|eval|serve|run]``, all on the same engine."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from bot.engine import Engine, EngineUnavailable
from bot.settings import BotSettings


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _engine(ctx: click.Context) -> Engine:
    settings = ctx.obj
    assert isinstance(settings, BotSettings)
    return Engine(settings)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """KYR Bot: answers about immigrants' rights in Chicago from vetted, cited documents."""
    ctx.obj = BotSettings()


@cli.command()
@click.argument("question", required=False)
@click.option("--lang", default=None, help="Reply language preference (ISO 639-1).")
@click.option("--json", "as_json", is_flag=True, help="Print the reply as a JSON object.")
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON Lines file of {id, question, lang?}; one JSON reply per line.",
)
@click.pass_context
def ask(
    ctx: click.Context, question: str | None, lang: str | None, as_json: bool, batch: Path | None
) -> None:
    """Answer one question (or a batch), exactly as a resident would get it."""
    engine = _engine(ctx)
    try:
        if batch is not None:
            for line in batch.read_text("utf-8", errors="replace").splitlines():
                if line.strip():
                    click.echo(json.dumps(_batch_line(engine, line), ensure_ascii=False))
            return
        if question is None:
            _fail("give a question, or --batch FILE")
        reply = engine.answer(question, lang)
    except EngineUnavailable as err:
        _fail(str(err))
    click.echo(json.dumps(reply.to_json(), ensure_ascii=False) if as_json else reply.text)


def _batch_line(engine: Engine, line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as err:
        return {"id": None, "error": f"not valid JSON ({err.msg})"}
    if not isinstance(item, dict):
        return {"id": None, "error": "each line must be a JSON object"}
    question, lang = item.get("question"), item.get("lang")
    if not isinstance(question, str):
        return {"id": item.get("id"), "error": "missing 'question' (a string)"}
    if lang is not None and not isinstance(lang, str):
        return {"id": item.get("id"), "error": "'lang' must be a string"}
    return {"id": item.get("id"), **engine.answer(question, lang).to_json()}


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Talk to the bot in the terminal (same engine and texts as Telegram)."""
    from bot.terminal import run_chat

    run_chat(_engine(ctx))


@cli.command(name="eval")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--verbose", "-v", is_flag=True, help="List every failed question.")
@click.option("--calibrate", is_flag=True, help="Search the evidence thresholds and print them.")
@click.pass_context
def eval_command(ctx: click.Context, path: Path | None, verbose: bool, calibrate: bool) -> None:
    """Run the evaluation set; exit non-zero below the targets."""
    from bot import evaluate

    engine = _engine(ctx)
    try:
        engine.warm_up()
        if calibrate:
            found = evaluate.calibrate(engine, evaluate.load_items(path or evaluate.DEFAULT_SET))
            for lang, c in sorted(found.items()):
                low, high = c.dense_ties
                click.echo(
                    f"{lang}: MIN_DENSE {c.min_dense:.2f} (ties {low:.2f}-{high:.2f})  "
                    f"MIN_BM25 {c.min_bm25:.2f}  (score {c.score:.3f})"
                )
            return
        outcomes = evaluate.run(engine, evaluate.load_items(path or evaluate.DEFAULT_SET))
    except EngineUnavailable as err:
        _fail(str(err))
    table = evaluate.summarise(outcomes)
    click.echo(evaluate.format_table(table))
    if verbose:
        for o in outcomes:
            if not o.correct:
                click.echo(f"FAIL {o.item.id}: {o.item.question!r}: {'; '.join(o.problems)}")
    misses = evaluate.failures_against_targets(table)
    for miss in misses:
        click.echo(f"below target: {miss}", err=True)
    if misses:
        sys.exit(1)
    click.echo("all targets met")


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the Telegram bot (long polling, or a webhook when KYR_WEBHOOK_URL is set)."""
    settings = ctx.obj
    if settings.telegram_bot_token is None:
        _fail("TELEGRAM_BOT_TOKEN is not set (use `python -m bot chat` for the terminal chat)")
    from bot.tg.app import run_bot

    run_bot(settings, _engine(ctx))


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Start the Telegram bot when a token is set, the terminal chat otherwise."""
    if ctx.obj.telegram_bot_token is None:
        click.echo("TELEGRAM_BOT_TOKEN is not set: starting the terminal chat instead.", err=True)
        ctx.invoke(chat)
    else:
        ctx.invoke(serve)


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    cli()

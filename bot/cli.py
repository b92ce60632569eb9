"""The bot's command line: ``python -m bot [ask|chat|eval|stats|serve|run]``, all on the same engine."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from bot.engine import Engine, EngineUnavailable, Turn
from bot.settings import BotSettings
from ingest.settings import PROJECT_ROOT


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _text(value: str) -> str:
    """``value`` without lone surrogates (invalid UTF-8 in argv or a JSON ``\\udc80`` escape),
    which the language detector and the embedding model cannot encode."""
    return value.encode("utf-8", "replace").decode("utf-8")


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
@click.option("--lang", default=None, help="The chat's language choice (ISO 639-1); it wins.")
@click.option("--json", "as_json", is_flag=True, help="Print the reply as a JSON object.")
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON Lines of {id, question, lang?, chat?}; lines with the same "chat" are one '
    "conversation, in file order. One JSON reply per line.",
)
@click.option("--explain", is_flag=True, help="Show the route, language and decision signals.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    lang: str | None,
    as_json: bool,
    batch: Path | None,
    explain: bool,
) -> None:
    """Answer one question (or a batch), exactly as a resident would get it."""
    if batch is not None and question is not None:
        _fail("give a question or --batch FILE, not both")
    engine = _engine(ctx)
    try:
        if batch is not None:
            history: dict[str, list[Turn]] = {}
            # only "\n" ends a line: str.splitlines() also splits on U+2028 and other characters
            # that are valid inside a JSON string; a BOM is dropped; invalid UTF-8 becomes U+FFFD
            text = batch.read_bytes().decode("utf-8-sig", errors="replace")
            for number, line in enumerate(text.split("\n"), 1):
                if line.strip():
                    row = _batch_line(engine, line, history, explain, number)
                    click.echo(json.dumps(row, ensure_ascii=False))
            return
        if question is None:
            _fail("give a question, or --batch FILE")
        trace = engine.respond(_text(question), _text(lang) if lang else None)
    except EngineUnavailable as err:
        _fail(str(err))
    if as_json:
        data = trace.reply.to_json()
        if explain:
            data["explain"] = {"route": trace.route, **trace.explain}
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(trace.reply.text)
    if explain:
        click.echo("\n--- explain ---")
        click.echo(
            json.dumps({"route": trace.route, **trace.explain}, indent=2, ensure_ascii=False)
        )


def _batch_line(
    engine: Engine, line: str, history: dict[str, list[Turn]], explain: bool, number: int = 0
) -> dict[str, Any]:
    """One reply object; a bad line gives an error object with its line number, never a crash
    (so no later line is lost)."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as err:
        return {"id": None, "line": number, "error": f"not valid JSON ({err.msg})"}
    except (ValueError, RecursionError) as err:  # a 4,301-digit number, nesting 100,000 deep
        return {"id": None, "line": number, "error": f"not usable JSON ({type(err).__name__})"}
    if not isinstance(item, dict):
        return {"id": None, "line": number, "error": "each line must be a JSON object"}
    item_id = item.get("id")
    if not isinstance(item_id, str | int | float | type(None)) or isinstance(item_id, bool):
        item_id = None
    if isinstance(item_id, str):
        item_id = _text(item_id)
    question, lang, chat = item.get("question"), item.get("lang"), item.get("chat")
    if not isinstance(question, str):
        return {"id": item_id, "line": number, "error": "missing 'question' (a string)"}
    if lang is not None and not isinstance(lang, str):
        return {"id": item_id, "line": number, "error": "'lang' must be a string"}
    if chat is not None and not isinstance(chat, str):
        return {"id": item_id, "line": number, "error": "'chat' must be a string"}
    question = _text(question)
    turns = history.setdefault(chat, []) if chat else []
    try:
        trace = engine.respond(question, _text(lang) if lang else None, history=turns)
    except EngineUnavailable:
        raise
    except Exception as err:  # one line's failure must not lose the lines after it
        return {"id": item_id, "line": number, "error": f"no reply ({type(err).__name__})"}
    if chat:
        turns.append(trace.turn())
    row = {"id": item_id, **trace.reply.to_json()}
    if explain:
        row["explain"] = {"route": trace.route, **trace.explain}
    return row


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Talk to the bot in the terminal (same engine and texts as Telegram)."""
    from bot.terminal import run_chat

    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")  # invalid UTF-8 typed or piped in becomes U+FFFD
    run_chat(_engine(ctx), read=lambda prompt: _text(input(prompt)))


@cli.command(name="eval")
@click.option(
    "--items",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evaluate this JSON Lines file instead of the dev and test splits.",
)
@click.option("--verbose", "-v", is_flag=True, help="List every wrong reply of dev.")
@click.option("--fit", is_flag=True, help="Fit the decision policy on dev and save it.")
@click.option("--no-band", is_flag=True, help="Skip the +/-0.02 threshold band on test.")
@click.option(
    "--strict", is_flag=True, help="Exit non-zero below the issue's targets, not only the floors."
)
@click.option(
    "--replies",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Judge replies from `bot ask --json --batch` (any version) against the test split.",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    items: Path | None,
    verbose: bool,
    fit: bool,
    no_band: bool,
    strict: bool,
    replies: Path | None,
) -> None:
    """Run the evaluation on dev and test; exit non-zero when test misses a target."""
    from bot import evaluate
    from bot.relevance import save_policy

    root = PROJECT_ROOT
    if replies is not None:
        test_items = evaluate.load_items(items or evaluate.SPLITS["test"])
        outcomes = evaluate.judge_replies(test_items, replies, root)
        click.echo(evaluate.format_tables({"replies": evaluate.summarise(outcomes)}))
        return
    engine = _engine(ctx)
    try:
        engine.warm_up()
        if fit:
            policy = evaluate.fit(engine, evaluate.load_items(evaluate.SPLITS["dev"]))
            save_policy(policy)
            click.echo(json.dumps(policy.to_json(), indent=2))
            return
        if items is not None:
            outcomes = evaluate.run(engine, evaluate.load_items(items), root)
            click.echo(evaluate.format_tables({items.name: evaluate.summarise(outcomes)}))
            _list_failures(outcomes, verbose)
            return
        dev = evaluate.run(engine, evaluate.load_items(evaluate.SPLITS["dev"]), root)
        test_items = evaluate.load_items(evaluate.SPLITS["test"])
        test = evaluate.run(engine, test_items, root)
        tables = {"dev": evaluate.summarise(dev), "test": evaluate.summarise(test)}
        click.echo(evaluate.format_tables(tables))
        _list_failures(dev, verbose)
        runs = {"": tables["test"]}
        if not no_band:
            for name, moved in evaluate.band(engine, test_items, root).items():
                now = getattr(engine.policy, name)
                click.echo(f"\ntest with {name} moved by -/+{evaluate.BAND} (fitted: {now}):")
                click.echo(evaluate.format_tables(moved))
                runs.update({f"{name} {delta}: ": table for delta, table in moved.items()})
    except EngineUnavailable as err:
        _fail(str(err))
    targets = [f"{k}{m}" for k, t in runs.items() for m in evaluate.failures_against_targets(t)]
    floors = [
        f"{k}{m}"
        for k, t in runs.items()
        for m in evaluate.failures_against_targets(t, evaluate.FLOORS)
    ]
    for miss in targets:
        click.echo(f"below the issue's target on test: {miss}", err=True)
    for miss in floors:
        click.echo(f"below the regression floor on test: {miss}", err=True)
    if floors or (strict and targets):
        sys.exit(1)
    click.echo(
        "all targets met on test, across the band"
        if not targets
        else "regression floors held on test, across the band (the issue's targets are not all met)"
    )


def _list_failures(outcomes: list[Any], verbose: bool) -> None:
    if verbose:
        for o in outcomes:
            if not o.correct:
                click.echo(f"WRONG {o.item.id}: {o.item.question!r}: {'; '.join(o.problems)}")


@cli.command(name="stats")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> None:
    """What a maintainer can act on: the index (as `ingest stats`) plus the bot's anonymous
    counts: questions with no answer per language and nearest topic, feedback per section."""
    import sqlalchemy as sa

    from bot import stats
    from bot.db import StateError
    from bot.state import State
    from ingest.store import IndexError_

    settings = ctx.obj
    try:
        index: dict[str, Any] | None = stats.index_stats(settings)
    except IndexError_ as err:
        click.echo(f"warning: {err}", err=True)
        index = None
    try:
        state = State.open(settings, counts_only=True)
    except StateError as err:
        _fail(str(err))
    try:
        counts = stats.Counts.read(state)
    except sa.exc.SQLAlchemyError as err:  # the database went away after opening
        _fail(f"cannot read the state database ({type(err).__name__})")
    finally:
        state.close()
    data = stats.report(index, counts)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else stats.render(data))


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

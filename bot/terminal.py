"""The terminal chat: the same engine and the same texts as Telegram, for maintainers and testing."""

from __future__ import annotations

from collections.abc import Callable

from bot import texts
from bot.engine import Engine, EngineUnavailable
from bot.ui_texts import ui, ui_language


def run_chat(
    engine: Engine, read: Callable[[str], str] = input, write: Callable[[str], None] = print
) -> None:
    """Read questions until end of input; slash commands mirror the Telegram ones."""
    lang = "en"
    preferred: str | None = None
    write(ui("welcome", lang))
    while True:
        try:
            line = read("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if line in ("/quit", "/exit"):
            return
        try:
            write(_respond(engine, line, lang, preferred))
        except EngineUnavailable:
            write(texts.text("unavailable", lang))
        if line.startswith("/language "):
            lang = preferred = ui_language(line.split(maxsplit=1)[1].strip().lower())


def _respond(engine: Engine, line: str, lang: str, preferred: str | None) -> str:
    command, _, arg = line.partition(" ")
    if command in ("/start", "/help"):
        return ui("welcome" if command == "/start" else "help", lang)
    if command == "/privacy":
        return ui("privacy", lang)
    if command == "/urgent":
        return engine.urgent_reply(lang).text
    if command == "/language":
        chosen = ui_language(arg.strip().lower())
        return ui("language_chosen", chosen)
    if command in ("/topics", "/sources"):
        docs = engine.catalog(lang)
        return "\n".join(f"- {d.title} ({d.checked_on})" for d in docs)
    if command.startswith("/"):
        return ui("unknown_command", lang)
    reply = engine.answer(line, preferred)
    return reply.text

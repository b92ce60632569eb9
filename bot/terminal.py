"""The terminal chat: the same engine and the same texts as Telegram, for maintainers and testing."""

from __future__ import annotations

from collections.abc import Callable

from bot import texts
from bot.engine import Engine, EngineUnavailable, Turn
from bot.ui_texts import ui, ui_language

#: Earlier turns handed to the engine with each question.
HISTORY_TURNS = 3


def run_chat(
    engine: Engine, read: Callable[[str], str] = input, write: Callable[[str], None] = print
) -> None:
    """Read questions until end of input; slash commands mirror the Telegram ones."""
    lang = "en"
    preferred: str | None = None
    history: list[Turn] = []  # this session's turns, in memory only, for follow-up questions
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
            if line.startswith("/"):
                write(_respond(engine, line, lang))
            else:
                trace = engine.respond(line, preferred, history=history[-HISTORY_TURNS:])
                history.append(trace.turn())
                write(trace.reply.text)
        except EngineUnavailable:
            write(texts.text("unavailable", lang))
        if line == "/forget":
            history.clear()
        if line.startswith("/language "):
            lang = preferred = ui_language(line.split(maxsplit=1)[1].strip().lower())


def _respond(engine: Engine, line: str, lang: str) -> str:
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
    return ui("unknown_command", lang)

"""Fixed texts of the chat front ends (Telegram and the terminal chat), from the message catalogs.

The texts live in ``bot/locales/<lang>.yaml`` with the engine's. Plain text only: each front end
escapes or formats them itself, so the terminal shows exactly what Telegram shows. Answers to questions come from the engine, never from here.
"""

from __future__ import annotations

from bot.texts import DEFAULT, SUPPORTED, catalog, languages, text

LEGAL_DIRECTORY = "https://www.immigrationadvocates.org/legaldirectory/"

LANGUAGE_NAMES = {"en": "English", "es": "Español"}

COMMANDS = ("start", "topics", "urgent", "language", "help", "privacy", "sources", "forget")


def ui(key: str, lang: str) -> str:
    """The UI text ``key`` in ``lang``, falling back to English (admin texts are English only)."""
    return text(key, lang)


def ui_languages() -> tuple[str, ...]:
    """Languages the chat front ends can be shown in: English, Spanish, and every language with
    a full catalog (its texts marked as awaiting a native speaker's review in the file)."""
    full = [lang for lang in languages() if catalog(lang).get("welcome")]
    return tuple(dict.fromkeys([*SUPPORTED, *full]))


def ui_language(*candidates: str | None) -> str:
    """The first candidate the UI is written in, else English."""
    shown = ui_languages()
    for lang in candidates:
        if lang:
            short = lang.split("-")[0].lower()
            if short in shown:
                return short
    return DEFAULT

"""Fixed reply texts: message catalogs per language (``bot/locales``), and the help-line numbers."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

SUPPORTED = ("en", "es")
DEFAULT = "en"

HOTLINE = "1-855-435-7693"
#: Public numbers the knowledge base gives (knowledge/en/help-lines.md): never masked as personal.
PUBLIC_NUMBERS = (HOTLINE, "1-877-581-3692", "(312) 746-6000", "1-888-351-4024")

LOCALES = Path(__file__).resolve().parent / "locales"


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """The message catalog of ``lang`` (``bot/locales/<lang>.yaml``); empty when there is none.

    Adding a language is adding its file: every text the bot shows that is not quoted from a
    document lives there. Keys missing from a catalog fall back to English.
    """
    path = LOCALES / f"{lang}.yaml"
    if not (lang.isascii() and lang.isalpha()) or not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def languages() -> list[str]:
    """Languages that have a catalog."""
    return sorted(p.stem for p in LOCALES.glob("*.yaml"))


def text(key: str, lang: str) -> str:
    """The text ``key`` in ``lang``, falling back to English."""
    return catalog(lang).get(key) or catalog(DEFAULT)[key]


def has_text(key: str, lang: str) -> bool:
    """Whether ``lang``'s own catalog has ``key`` (rather than falling back to English)."""
    return bool(catalog(lang).get(key))


def reply_language(lang: str) -> str:
    """The language a reply is written in: the detected one if supported, else English."""
    return lang if lang in SUPPORTED else DEFAULT

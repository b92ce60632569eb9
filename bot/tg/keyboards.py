"""Inline keyboards and their callback data: short, versionless strings checked on the way back.

Callback data comes back from the client and may have been tampered with, so ``parse`` accepts
only the exact shapes built here (languages from a fixed list, document ids as slugs, small
section numbers) and returns ``None`` for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit

from bot.engine import DocumentInfo
from bot.ui_texts import LANGUAGE_NAMES, ui

_MAX = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA

_PATTERNS: dict[str, re.Pattern[str]] = {
    "lang": re.compile(r"lang:(?P<lang>en|es)"),
    "welcome": re.compile(r"wel:(?P<lang>en|es)"),
    "topics": re.compile(r"top:(?P<lang>en|es)"),
    "back": re.compile(r"back:(?P<lang>en|es)"),
    "doc": re.compile(r"doc:(?P<lang>en|es):(?P<doc>[a-z0-9][a-z0-9-]{0,52})"),
    "section": re.compile(r"sec:(?P<lang>en|es):(?P<doc>[a-z0-9][a-z0-9-]{0,52}):(?P<n>\d{1,3})"),
    "feedback": re.compile(r"fb:(?P<kind>h|n):(?P<lang>en|es):(?P<doc>[a-z0-9-]{0,53})"),
    "person": re.compile(r"ppl:(?P<lang>en|es):(?P<doc>[a-z0-9-]{0,53})"),
}
FEEDBACK_KIND = {"h": "helpful", "n": "not_helpful"}


@dataclass(frozen=True)
class Action:
    """A parsed button press."""

    name: str
    lang: str
    doc: str = ""
    section: int = 0
    kind: str = ""


def parse(data: object) -> Action | None:
    """The action a callback asks for, or ``None`` when the data is not one we built."""
    if not isinstance(data, str) or len(data.encode()) > _MAX:
        return None
    for name, pattern in _PATTERNS.items():
        m = pattern.fullmatch(data)
        if m:
            groups = m.groupdict()
            return Action(
                name=name,
                lang=groups["lang"],
                doc=groups.get("doc") or "",
                section=int(groups.get("n") or 0),
                kind=FEEDBACK_KIND.get(groups.get("kind") or "", ""),
            )
    return None


def _button(label: str, data: str) -> InlineKeyboardButton | None:
    """A button, or ``None`` if its data would not fit Telegram's 64 bytes."""
    if len(data.encode()) > _MAX:
        return None
    return InlineKeyboardButton(label, callback_data=data)


def _rows(buttons: Sequence[InlineKeyboardButton | None]) -> list[list[InlineKeyboardButton]]:
    return [[b] for b in buttons if b is not None]


def welcome(lang: str) -> InlineKeyboardMarkup:
    """Language buttons and a topics button under the welcome."""
    languages = [
        InlineKeyboardButton(name, callback_data=f"wel:{code}")
        for code, name in LANGUAGE_NAMES.items()
    ]
    topics = InlineKeyboardButton(ui("btn_topics", lang), callback_data=f"top:{lang}")
    return InlineKeyboardMarkup([languages, [topics]])


def languages() -> InlineKeyboardMarkup:
    """One button per supported language."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(name, callback_data=f"lang:{code}")]
            for code, name in LANGUAGE_NAMES.items()
        ]
    )


def topics(docs: Sequence[DocumentInfo], lang: str) -> InlineKeyboardMarkup:
    """One button per document."""
    return InlineKeyboardMarkup(_rows([_button(d.title, f"doc:{lang}:{d.id}") for d in docs]))


def sections(doc: DocumentInfo, lang: str) -> InlineKeyboardMarkup:
    """One button per section of ``doc`` and a way back to the topics."""
    buttons = [_button(s.heading, f"sec:{lang}:{doc.id}:{s.index}") for s in doc.sections]
    buttons.append(_button(ui("btn_back", lang), f"back:{lang}"))
    return InlineKeyboardMarkup(_rows(buttons))


def feedback(doc_id: str, lang: str, *, asked: bool = False) -> InlineKeyboardMarkup:
    """Helpful / not helpful / talk to a person (only the last once feedback was given)."""
    person = _button(ui("btn_person", lang), f"ppl:{lang}:{doc_id}") or InlineKeyboardButton(
        ui("btn_person", lang), callback_data=f"ppl:{lang}:"
    )
    if asked:
        return InlineKeyboardMarkup([[person]])
    votes = [
        _button(ui("btn_helpful", lang), f"fb:h:{lang}:{doc_id}"),
        _button(ui("btn_not_helpful", lang), f"fb:n:{lang}:{doc_id}"),
    ]
    return InlineKeyboardMarkup([[b for b in votes if b is not None], [person]])

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
from bot.ui_texts import LANGUAGE_NAMES, ui, ui_languages
from bot.urgency import SITUATIONS

_MAX = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
#: Topic buttons per page: a phone screen, and far below Telegram's limit however many topics.
TOPICS_PER_PAGE = 8

#: Button data carries the chat's interface language: any language with a full catalog.
_UI = "|".join(ui_languages())
#: A section key as the index writes it: the section's language, document id and position.
_SECTION = r"(?P<slang>[a-z]{2})/(?P<doc>[a-z0-9][a-z0-9-]{0,59})#(?P<n>\d{1,3})"
_PATTERNS: dict[str, re.Pattern[str]] = {
    # choosing a language sets the answer language: only the ones documents are written in
    "lang": re.compile(r"lang:(?P<lang>en|es)"),
    "welcome": re.compile(r"wel:(?P<lang>en|es)"),
    "topics": re.compile(rf"top:(?P<lang>{_UI})(?::(?P<n>\d{{1,2}}))?"),
    "emergency": re.compile(rf"sos:(?P<lang>{_UI})"),
    "situation": re.compile(rf"sit:(?P<lang>{_UI}):(?P<kind>door|work|school|detained|stopped)"),
    "back": re.compile(rf"back:(?P<lang>{_UI})"),
    "doc": re.compile(rf"doc:(?P<lang>{_UI}):(?P<doc>[a-z0-9][a-z0-9-]{{0,52}})"),
    "section": re.compile(
        rf"sec:(?P<lang>{_UI}):(?P<doc>[a-z0-9][a-z0-9-]{{0,52}}):(?P<n>\d{{1,3}})"
    ),
    # a vote on the section a reply quoted ("fb:n:en:en/agents-at-home#2"), and its reason
    # ("fw:u:en:en/agents-at-home#2": as long as the vote, so it fits whenever the vote did)
    "vote": re.compile(rf"fb:(?P<kind>h|n):(?P<lang>{_UI}):{_SECTION}"),
    "reason": re.compile(rf"fw:(?P<kind>w|u|o|q):(?P<lang>{_UI}):{_SECTION}"),
    # a vote on a whole document: buttons sent before votes named the section
    "feedback": re.compile(rf"fb:(?P<kind>h|n):(?P<lang>{_UI}):(?P<doc>[a-z0-9-]{{0,53}})"),
    "person": re.compile(rf"ppl:(?P<lang>{_UI}):(?P<doc>[a-z0-9-]{{0,53}})"),
}
FEEDBACK_KIND = {"h": "helpful", "n": "not_helpful"}
#: The reasons offered under a "not helpful" vote, by their one-letter code in button data.
REASON_CODES = {"w": "wrong", "u": "unclear", "o": "out_of_date", "q": "not_my_question"}
_KINDS = {**FEEDBACK_KIND, **REASON_CODES}


@dataclass(frozen=True)
class Action:
    """A parsed button press."""

    name: str
    lang: str
    doc: str = ""
    section: int = 0
    kind: str = ""
    section_lang: str = ""  # votes and reasons: the language of the section they are about

    @property
    def section_key(self) -> str:
        """``en/doc-id#2`` for a vote or reason on a section, else ``""``."""
        return f"{self.section_lang}/{self.doc}#{self.section}" if self.section_lang else ""


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
                kind=_KINDS.get(groups.get("kind") or "", groups.get("kind") or ""),
                section_lang=groups.get("slang") or "",
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
    """ "I need help right now" first, then the language buttons and a topics button."""
    emergency = InlineKeyboardButton(ui("btn_urgent", lang), callback_data=f"sos:{lang}")
    languages = [
        InlineKeyboardButton(name, callback_data=f"wel:{code}")
        for code, name in LANGUAGE_NAMES.items()
    ]
    topics = InlineKeyboardButton(ui("btn_topics", lang), callback_data=f"top:{lang}")
    return InlineKeyboardMarkup([[emergency], languages, [topics]])


def situations(lang: str) -> InlineKeyboardMarkup:
    """One button per urgent situation, in the order of the urgent scripts."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(ui(f"btn_sit_{s}", lang), callback_data=f"sit:{lang}:{s}")]
            for s in SITUATIONS
        ]
    )


def languages() -> InlineKeyboardMarkup:
    """One button per supported language."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(name, callback_data=f"lang:{code}")]
            for code, name in LANGUAGE_NAMES.items()
        ]
    )


def topics(
    docs: Sequence[DocumentInfo], lang: str, page: int = 0, *, person: bool = False
) -> InlineKeyboardMarkup:
    """One button per document, a page at a time, with buttons to the other pages (and a
    "talk to a person" button under a reply that had no answer). Page buttons carry the page
    number counted from 1 (``top:en:2``); plain ``top:en`` sends a new topics message."""
    docs = [d for d in docs if not d.urgent]  # the emergency button stands for the scripts
    pages = max(1, -(-len(docs) // TOPICS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = docs[page * TOPICS_PER_PAGE : (page + 1) * TOPICS_PER_PAGE]
    rows = _rows([_button(d.title, f"doc:{lang}:{d.id}") for d in shown])
    if page == 0:
        rows.insert(0, [InlineKeyboardButton(ui("btn_urgent", lang), callback_data=f"sos:{lang}")])
    paging = []
    if page > 0:
        paging.append(
            InlineKeyboardButton(ui("btn_prev", lang), callback_data=f"top:{lang}:{page}")
        )
    if page + 1 < pages:
        paging.append(
            InlineKeyboardButton(ui("btn_next", lang), callback_data=f"top:{lang}:{page + 2}")
        )
    if paging:
        rows.append(paging)
    if person:
        rows.append([InlineKeyboardButton(ui("btn_person", lang), callback_data=f"ppl:{lang}:")])
    return InlineKeyboardMarkup(rows)


def sections(doc: DocumentInfo, lang: str) -> InlineKeyboardMarkup:
    """One button per section of ``doc`` and a way back to the topics."""
    buttons = [_button(s.heading, f"sec:{lang}:{doc.id}:{s.index}") for s in doc.sections]
    buttons.append(_button(ui("btn_back", lang), f"back:{lang}"))
    return InlineKeyboardMarkup(_rows(buttons))


def feedback(
    doc_id: str, lang: str, *, asked: bool = False, section: str = "", reasons: bool = False
) -> InlineKeyboardMarkup:
    """Helpful / not helpful / talk to a person under a reply quoting ``section`` (its key,
    ``en/doc-id#2``); with ``reasons``, why it was not helpful; with ``asked``, only the person.

    A vote names the section when its data fits Telegram's 64 bytes, else the document."""
    person = _button(ui("btn_person", lang), f"ppl:{lang}:{doc_id}") or InlineKeyboardButton(
        ui("btn_person", lang), callback_data=f"ppl:{lang}:"
    )
    if asked:
        return InlineKeyboardMarkup([[person]])
    if reasons and section:
        why = [
            _button(ui(f"btn_why_{reason}", lang), f"fw:{code}:{lang}:{section}")
            for code, reason in REASON_CODES.items()
        ]
        shown = [b for b in why if b is not None]
        return InlineKeyboardMarkup(
            [*(shown[i : i + 2] for i in range(0, len(shown), 2)), [person]]
        )
    votes = [
        (section and _button(ui(label, lang), f"fb:{code}:{lang}:{section}"))
        or _button(ui(label, lang), f"fb:{code}:{lang}:{doc_id}")
        for code, label in (("h", "btn_helpful"), ("n", "btn_not_helpful"))
    ]
    return InlineKeyboardMarkup([[b for b in votes if b is not None], [person]])

"""Urgent steps that never depend on the index, a server or the rate limit.

The urgent scripts are read from the vetted knowledge files (``knowledge/<lang>/urgent.md``) once at
start-up, with the same loader ingest uses, so the bot can send the steps for "agents are at my
door right now" when Chroma is down, frozen or slow, or when the chat is past its rate limit.
Detection here is the English/Spanish/multilingual pattern backstop of :mod:`bot.guard` (pure
regular expressions, no embedding), so it is cheap enough to run before the rate limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot import compose, texts
from bot.corpus import SectionRecord
from bot.guard import detect_urgent, is_hypothetical, situation_hint
from bot.reply import Reply
from bot.urgency import SCRIPT_INDEX, SITUATIONS, Situation
from ingest.loaders import DocumentError, load_document
from ingest.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

URGENT_DOC = "urgent"


def pattern_situation(text: str) -> Situation | None:
    """The situation a message describes as happening now, from patterns only (or None)."""
    found = detect_urgent(text)
    if found is None or is_hypothetical(text):
        return None
    place = situation_hint(text) if found == "now" else found  # "now": the place is unclear
    return next((s for s in SITUATIONS if s == place), "door")


@dataclass
class UrgentScripts:
    """The urgent scripts of every language that has them, loaded from the knowledge files."""

    by_lang: dict[str, list[SectionRecord]] = field(default_factory=dict)

    @classmethod
    def load(cls, knowledge_dir: Path, max_bytes: int = 5_000_000) -> UrgentScripts:
        """Read ``<knowledge_dir>/<lang>/urgent.md`` for every language folder; a bad file is
        logged (by path) and skipped, so start-up never fails here."""
        scripts = cls()
        if not knowledge_dir.is_dir():
            log.warning("no knowledge folder at %s: no built-in urgent scripts", knowledge_dir)
            return scripts
        for path in sorted(knowledge_dir.glob(f"*/{URGENT_DOC}.md")):
            try:
                doc = load_document(path, _root(knowledge_dir), max_bytes)
            except (DocumentError, OSError, ValueError) as err:
                log.warning("urgent scripts in %s not loaded: %s", path.parent.name, err)
                continue
            meta = doc.meta
            records = []
            for index, section in enumerate(doc.sections):
                ids = list(section.sources) or [s.id for s in meta.sources]
                sources = [s for i in ids if (s := meta.source(i)) is not None]
                records.append(
                    SectionRecord(
                        key=f"{meta.lang}/{meta.id}#{index}",
                        lang=meta.lang,
                        doc_id=meta.id,
                        index=index,
                        title=meta.title,
                        heading=section.heading,
                        text=section.text,
                        url=str(sources[0].url) if sources else "",
                        source=doc.path,
                        checked_on=meta.last_verified.isoformat(),
                        summary=meta.summary or "",
                        urgent=True,
                        chunk_ids=(),
                        source_title=sources[0].title if sources else "",
                        awaiting_native_review=meta.awaiting_native_review,
                    )
                )
            scripts.by_lang[meta.lang] = records
        if texts.DEFAULT not in scripts.by_lang:
            log.warning("no built-in urgent scripts in %s", texts.DEFAULT)
        return scripts

    def _lang(self, language: str) -> str | None:
        for lang in dict.fromkeys([language, texts.reply_language(language), texts.DEFAULT]):
            if self.by_lang.get(lang):
                return lang
        return None

    def _notice(self, lang: str, language: str) -> str:
        if self.by_lang[lang][0].awaiting_native_review:
            return texts.text("translation_unreviewed", lang)
        if lang != language:
            return texts.text("urgent_english_only", language)
        return ""

    def reply(self, situation: Situation, language: str, question: str = "") -> Reply | None:
        """The script for ``situation`` in ``language`` when vetted, else in English with a line
        saying so (as the engine does); None when no script was loaded."""
        lang = self._lang(language)
        if lang is None:
            return None
        records = self.by_lang[lang]
        index = SCRIPT_INDEX[situation]
        if index >= len(records):
            return None
        notice = self._notice(lang, language)
        return compose.urgent_reply(question, texts.reply_language(lang), [records[index]], notice)

    def every(self, language: str) -> Reply | None:
        """Every script in order (for /urgent)."""
        lang = self._lang(language)
        if lang is None:
            return None
        records = self.by_lang[lang][: len(SITUATIONS)]
        return compose.urgent_reply(
            "", texts.reply_language(lang), records, self._notice(lang, language)
        )


def _root(knowledge_dir: Path) -> Path:
    """The folder document paths are reported relative to (the project, or the folder's parent)."""
    try:
        knowledge_dir.resolve().relative_to(PROJECT_ROOT)
        return PROJECT_ROOT
    except ValueError:
        return knowledge_dir.resolve().parent

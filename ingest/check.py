"""Validation of a knowledge folder, with warnings that need a maintainer's eye (no model load)."""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ingest.loaders import DocumentError, load_all
from ingest.schema import PRIMARY_KINDS, Document, Section
from ingest.settings import PROJECT_ROOT, IndexSettings

#: The language translations are made from; a translation without it gets a warning.
ORIGINAL_LANGUAGE = "en"
#: A section this many times longer than the median section gets a warning.
LONG_SECTION_FACTOR = 3.0
#: Every section lists at least this many other ways residents ask its question (``asked:``).
MIN_ASKED = 2
#: ... and English and Spanish sections should list this many (fewer is a warning).
WANTED_ASKED = {"en": 4, "es": 4}
#: How a heading that is a question ends, in the scripts of the knowledge base.
QUESTION_MARKS = ("?", "？", "؟")
#: The hard limit on a section's length, in words (knowledge/README.md, "Sections stand alone").
MAX_SECTION_WORDS = 150
#: Languages that hold every document, each the twin of the other.
FULL_LANGUAGES = ("en", "es")
#: The only documents a language beyond English and Spanish holds.
TRANSLATED_ONLY = frozenset({"urgent", "help-lines"})
#: The urgent document's scripts (door, work, school, detained, stopped), in this order.
URGENT_SCRIPTS = 5
#: The family support hotline: every urgent script ends with it.
HOTLINE = "1-855-435-7693"
#: The document that lists every verified phone number (in English).
HELP_LINES = ("en", "help-lines")
_URL = re.compile(r"https?://[^\s)>\]\"']+")
#: A phone number as the writing rules spell them (1-855-435-7693, (312) 746-6000) or a short
#: service number (311, 911); digits of any script count.
PHONE = re.compile(r"(?:\b1[-. ])?\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b|\b[2-9]1{2}\b")
#: A Markdown heading other than ``## `` (``#``, ``###`` ...), which the writing rules forbid.
_OTHER_HEADING = re.compile(r"^(#|#{3,6})[ \t]+\S", re.M)


@dataclass
class CheckReport:
    """Documents that loaded, errors that block an ingest, and warnings that do not."""

    documents: list[Document]
    errors: list[DocumentError]
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks an ingest."""
        return not self.errors


def check(folder: Path, settings: IndexSettings, today: date | None = None) -> CheckReport:
    """Validate every document under ``folder`` against the rules of knowledge/README.md.

    Errors block an ingest; warnings need a maintainer's eye. Each names ``file:line`` where the
    line is known and gives a one-line reason.
    """
    result = load_all(folder, PROJECT_ROOT, int(settings.max_file_mb * 1_000_000))
    report = CheckReport(result.documents, result.errors)
    today = today or date.today()
    limit = today - timedelta(days=settings.stale_after_days)
    for doc in result.documents:
        if doc.meta.last_verified < limit:
            report.warnings.append(
                f"{doc.path}: last verified {doc.meta.last_verified} "
                f"(more than {settings.stale_after_days} days ago); re-check its sources"
            )
    for doc in result.documents:
        report.errors.extend(section_errors(doc))
        report.warnings.extend(section_warnings(doc))
    errors, warnings = corpus_rules(result.documents)
    report.errors.extend(errors)
    report.warnings.extend(warnings)
    lengths = [len(s.text.split()) for d in result.documents for s in d.sections]
    if len(lengths) >= 3:
        median = statistics.median(lengths)
        for doc in result.documents:
            for section in doc.sections:
                words = len(section.text.split())
                if median and LONG_SECTION_FACTOR * median < words <= MAX_SECTION_WORDS:
                    report.warnings.append(
                        f"{_where(doc, section.line)}: section {section.heading!r} has {words} "
                        f"words, over {LONG_SECTION_FACTOR:g}x the median ({median:g})"
                    )
    return report


def corpus_rules(documents: list[Document]) -> tuple[list[DocumentError], list[str]]:
    """Rules across documents: twins, what other languages hold, the urgent scripts, phones."""
    errors: list[DocumentError] = []
    warnings: list[str] = []
    by_key = {(d.meta.lang, d.meta.id): d for d in documents}
    for doc in documents:
        lang, doc_id = doc.meta.lang, doc.meta.id
        if lang in FULL_LANGUAGES:
            twin_lang = FULL_LANGUAGES[1 - FULL_LANGUAGES.index(lang)]
            twin = by_key.get((twin_lang, doc_id))
            if twin is None:
                warnings.append(
                    f"{doc.path}: no {twin_lang} twin ({twin_lang}/{doc_id} is missing); "
                    "English and Spanish hold every document"
                )
            elif lang == FULL_LANGUAGES[1]:
                errors.extend(_twin_errors(doc, twin, warnings, strict=True))
            if doc.meta.awaiting_native_review:
                errors.append(
                    DocumentError(
                        doc.path,
                        "awaiting_native_review is only for languages beyond English and Spanish",
                    )
                )
        else:
            if doc_id not in TRANSLATED_ONLY:
                errors.append(
                    DocumentError(
                        doc.path,
                        f"a {lang} document may only be {' or '.join(sorted(TRANSLATED_ONLY))} "
                        "(other languages hold only the urgent scripts and the help-lines)",
                    )
                )
            original = by_key.get((ORIGINAL_LANGUAGE, doc_id))
            if original is None:
                warnings.append(
                    f"{doc.path}: translation without an original "
                    f"({ORIGINAL_LANGUAGE}/{doc_id} is missing)"
                )
            elif doc_id in TRANSLATED_ONLY:
                errors.extend(_twin_errors(doc, original, warnings, strict=False))
        if doc_id == "urgent":
            errors.extend(_urgent_errors(doc))
        elif doc.meta.urgent:
            errors.append(DocumentError(doc.path, "urgent: true is only for the urgent document"))
    errors.extend(_phone_errors(documents, by_key.get(HELP_LINES), warnings))
    return errors, warnings


def _twin_errors(
    doc: Document, original: Document, warnings: list[str], strict: bool
) -> list[DocumentError]:
    """A translation has the same sections, in the same order, as its original.

    For the Spanish twin of an English document a different count is an error (the bot quotes
    section *i* of one for section *i* of the other); for a translation beyond English and Spanish
    it is a warning: today's help-lines translations keep only the lines they could verify.
    """
    errors = []
    if len(doc.sections) != len(original.sections):
        message = (
            f"{len(doc.sections)} sections but {original.path} has "
            f"{len(original.sections)}; twins have the same sections in the same order"
        )
        if strict:
            errors.append(DocumentError(doc.path, message))
        else:
            warnings.append(f"{doc.path}: {message}")
    for name in ("jurisdiction", "urgent"):
        mine, theirs = getattr(doc.meta, name), getattr(original.meta, name)
        if mine != theirs:
            errors.append(
                DocumentError(
                    doc.path, f"{name} is {mine!r} but {theirs!r} in its twin {original.path}"
                )
            )
    return errors


def _urgent_errors(doc: Document) -> list[DocumentError]:
    """The urgent document: flagged, exactly five scripts, each ending with the hotline."""
    errors = []
    if not doc.meta.urgent:
        errors.append(DocumentError(doc.path, "the urgent document needs urgent: true"))
    if len(doc.sections) != URGENT_SCRIPTS:
        errors.append(
            DocumentError(
                doc.path,
                f"the urgent document has {len(doc.sections)} scripts; it needs exactly "
                f"{URGENT_SCRIPTS} (door, work, school, detained, stopped)",
            )
        )
    for section in doc.sections:
        # whatever the script's full stop (".", "。", "।", "۔"), the number comes last
        if not section.text.rstrip().rstrip(".。।۔").endswith(HOTLINE):
            errors.append(
                DocumentError(
                    _where(doc, section.line),
                    f"urgent script {section.heading!r} does not end with the family support "
                    f"hotline {HOTLINE}",
                )
            )
    return errors


def phone_digits(number: str) -> str:
    """A number's last 10 digits as ASCII (any script's digits count)."""
    return "".join(str(unicodedata.digit(c)) for c in number if c.isdigit())[-10:]


def _phone_errors(
    documents: list[Document], help_lines: Document | None, warnings: list[str]
) -> list[DocumentError]:
    """Every phone number in any document also appears in en/help-lines (the verified ones)."""
    found = [
        (doc, section, number)
        for doc in documents
        for section in doc.sections
        for number in PHONE.findall(section.text)
    ]
    if help_lines is None:
        if found:
            doc, _, _ = found[0]
            warnings.append(
                f"{doc.path}: phone numbers not checked: the folder has no "
                f"{HELP_LINES[0]}/{HELP_LINES[1]} document listing the verified ones"
            )
        return []
    listed = {phone_digits(n) for s in help_lines.sections for n in PHONE.findall(s.text)}
    return [
        DocumentError(
            _where(doc, section.line),
            f"phone number {number} is not in {help_lines.path}; verify it and add it there first",
        )
        for doc, section, number in found
        if phone_digits(number) not in listed
    ]


def _where(doc: Document, line: int) -> str:
    return f"{doc.path}:{line}" if line else doc.path


def section_errors(doc: Document) -> list[DocumentError]:
    """Rules every section must meet: named sources, question phrasings, listed URLs."""
    errors = []
    listed = {str(s.url).rstrip("/") for s in doc.meta.sources}
    for section in doc.sections:
        where = _where(doc, section.line)
        if not section.sources:
            errors.append(
                DocumentError(where, f"section {section.heading!r} names no source (`sources:`)")
            )
        if len(section.asked) < MIN_ASKED:
            errors.append(
                DocumentError(
                    where,
                    f"section {section.heading!r} has {len(section.asked)} question phrasing(s) "
                    f"(`asked:`); at least {MIN_ASKED} are needed",
                )
            )
        for url in _URL.findall(section.text):
            if url.rstrip(".,;:").rstrip("/") not in listed:
                errors.append(
                    DocumentError(where, f"URL {url} is not listed in the document's sources")
                )
        for match in _OTHER_HEADING.finditer(section.text):
            errors.append(
                DocumentError(
                    _where(doc, _text_line(doc, section, match.start())),
                    f"{match.group(1)} heading inside section {section.heading!r}; only `## ` "
                    "headings are allowed (one per section)",
                )
            )
        words = len(section.text.split())
        if words > MAX_SECTION_WORDS:
            errors.append(
                DocumentError(
                    where,
                    f"section {section.heading!r} has {words} words, over the limit of "
                    f"{MAX_SECTION_WORDS}; split it or shorten it",
                )
            )
    return errors


def _text_line(doc: Document, section: Section, offset: int) -> int:
    """The file line of a position in a section's text (0 when the file's lines are unknown)."""
    if not section.line or not doc.path.endswith(".md"):
        return section.line
    try:
        lines = (PROJECT_ROOT / doc.path).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return section.line
    target = section.text[offset:].splitlines()[0].strip() if section.text[offset:] else ""
    for number in range(section.line, len(lines) + 1):
        if lines[number - 1].strip() == target:
            return number
    return section.line


def section_warnings(doc: Document) -> list[str]:
    """Things a maintainer should look at: a section whose linked source is not primary, fewer
    question phrasings than English and Spanish want."""
    warnings = []
    wanted = WANTED_ASKED.get(doc.meta.lang, MIN_ASKED)
    for section in doc.sections:
        if not section.heading.rstrip().endswith(QUESTION_MARKS):
            warnings.append(
                f"{_where(doc, section.line)}: heading {section.heading!r} is not a question; "
                "write it the way a resident would ask it"
            )
        if MIN_ASKED <= len(section.asked) < wanted:
            warnings.append(
                f"{_where(doc, section.line)}: section {section.heading!r} has "
                f"{len(section.asked)} question phrasings (`asked:`); write at least {wanted} "
                f"for {doc.meta.lang}"
            )
        first = doc.meta.source(section.sources[0]) if section.sources else None
        if first is not None and first.kind not in PRIMARY_KINDS:
            warnings.append(
                f"{_where(doc, section.line)}: section {section.heading!r} links a {first.kind} "
                f"source ({first.id}); link a primary one (law, court, government, service) "
                "where one exists"
            )
    return warnings

"""Validation of a knowledge folder, with warnings that need a maintainer's eye (no model load)."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ingest.loaders import DocumentError, load_all
from ingest.schema import PRIMARY_KINDS, Document
from ingest.settings import PROJECT_ROOT, IndexSettings

#: The language translations are made from; a translation without it gets a warning.
ORIGINAL_LANGUAGE = "en"
#: A section this many times longer than the median section gets a warning.
LONG_SECTION_FACTOR = 3.0
#: Every section lists at least this many other ways residents ask its question (``asked:``).
MIN_ASKED = 2
_URL = re.compile(r"https?://[^\s)>\]\"']+")


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
    """Validate every document under ``folder`` and collect warnings."""
    result = load_all(folder, PROJECT_ROOT, int(settings.max_file_mb * 1_000_000))
    report = CheckReport(result.documents, result.errors)
    today = today or date.today()
    limit = today - timedelta(days=settings.stale_after_days)
    keys = {(d.meta.lang, d.meta.id) for d in result.documents}
    for doc in result.documents:
        if doc.meta.last_verified < limit:
            report.warnings.append(
                f"{doc.path}: last verified {doc.meta.last_verified} "
                f"(more than {settings.stale_after_days} days ago); re-check its sources"
            )
        if doc.meta.lang != ORIGINAL_LANGUAGE and (ORIGINAL_LANGUAGE, doc.meta.id) not in keys:
            report.warnings.append(
                f"{doc.path}: translation without an original "
                f"({ORIGINAL_LANGUAGE}/{doc.meta.id} is missing)"
            )
    for doc in result.documents:
        report.errors.extend(section_errors(doc))
        report.warnings.extend(section_warnings(doc))
    lengths = [len(s.text.split()) for d in result.documents for s in d.sections]
    if len(lengths) >= 3:
        median = statistics.median(lengths)
        for doc in result.documents:
            for section in doc.sections:
                words = len(section.text.split())
                if median and words > LONG_SECTION_FACTOR * median:
                    report.warnings.append(
                        f"{doc.path}: section {section.heading!r} has {words} words, "
                        f"over {LONG_SECTION_FACTOR:g}x the median ({median:g})"
                    )
    return report


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
    return errors


def section_warnings(doc: Document) -> list[str]:
    """Things a maintainer should look at: a section whose linked source is not primary."""
    warnings = []
    for section in doc.sections:
        first = doc.meta.source(section.sources[0]) if section.sources else None
        if first is not None and first.kind not in PRIMARY_KINDS:
            warnings.append(
                f"{_where(doc, section.line)}: section {section.heading!r} links a {first.kind} "
                f"source ({first.id}); link a primary one (law, court, government, service) "
                "where one exists"
            )
    return warnings

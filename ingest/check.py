"""Validation of a knowledge folder, with warnings that need a maintainer's eye (no model load)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ingest.loaders import DocumentError, load_all
from ingest.schema import Document
from ingest.settings import PROJECT_ROOT, IndexSettings

#: The language translations are made from; a translation without it gets a warning.
ORIGINAL_LANGUAGE = "en"
#: A section this many times longer than the median section gets a warning.
LONG_SECTION_FACTOR = 3.0


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

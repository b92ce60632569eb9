"""The vetted knowledge base keeps its promises: sources, parallel translations, short sections,
and no phone number that the help-lines document does not list."""

from __future__ import annotations

import re

import pytest

from ingest.check import check
from ingest.schema import Document
from ingest.settings import PROJECT_ROOT, IndexSettings

PHONE = re.compile(r"(?:\b1[-. ])?\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b|\b[2-9]1{2}\b")
MAX_WORDS = 150


@pytest.fixture(scope="module")
def documents() -> dict[tuple[str, str], Document]:
    report = check(PROJECT_ROOT / "knowledge", IndexSettings())
    assert report.ok, [str(e) for e in report.errors]
    return {(d.meta.lang, d.meta.id): d for d in report.documents}


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)[-10:]


def test_every_document_has_a_source_url(documents: dict[tuple[str, str], Document]) -> None:
    for doc in documents.values():
        assert doc.meta.sources and all(
            str(s.url).startswith(("https://", "http://")) for s in doc.meta.sources
        )


def test_spanish_documents_mirror_their_english_original(
    documents: dict[tuple[str, str], Document],
) -> None:
    spanish = [d for (lang, _), d in documents.items() if lang == "es"]
    english = [d for (lang, _), d in documents.items() if lang == "en"]
    assert len(spanish) == len(english) >= 15
    for doc in spanish:
        original = documents[("en", doc.meta.id)]
        assert len(doc.sections) == len(original.sections), doc.path
        assert doc.meta.jurisdiction == original.meta.jurisdiction


def test_sections_are_neither_empty_nor_long(documents: dict[tuple[str, str], Document]) -> None:
    for doc in documents.values():
        for section in doc.sections:
            words = len(section.text.split())
            assert 0 < words <= MAX_WORDS, f"{doc.path}: {section.heading!r} has {words} words"


def test_every_phone_number_is_in_the_help_lines(
    documents: dict[tuple[str, str], Document],
) -> None:
    listed = {
        digits(n)
        for lang in ("en", "es")
        for s in documents[(lang, "help-lines")].sections
        for n in PHONE.findall(s.text)
    }
    assert "8554357693" in listed  # the family support hotline
    for doc in documents.values():
        for section in doc.sections:
            for number in PHONE.findall(section.text):
                assert digits(number) in listed, f"{doc.path}: {number} is not in help-lines"


def test_urgent_scripts_end_with_the_hotline(documents: dict[tuple[str, str], Document]) -> None:
    for lang in ("en", "es"):
        doc = documents[(lang, "urgent")]
        assert doc.meta.urgent and len(doc.sections) == 3
        for section in doc.sections:
            assert section.text.rstrip().endswith("1-855-435-7693.")

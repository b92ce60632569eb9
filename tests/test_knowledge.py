"""The vetted knowledge base keeps its promises: every section rests on named sources and lists
the ways residents ask it, English and Spanish run in parallel, other languages hold only the
urgent scripts and the help-lines, and no phone number is missing from the help-lines."""

from __future__ import annotations

import re
import unicodedata

import pytest

from ingest.loaders import load_all
from ingest.schema import Document
from ingest.settings import PROJECT_ROOT, IndexSettings

KNOWLEDGE = PROJECT_ROOT / "knowledge"
PHONE = re.compile(r"(?:\b1[-. ])?\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b|\b[2-9]1{2}\b")
MAX_WORDS = 150
HOTLINE = "1-855-435-7693"
#: English and Spanish hold every document; other languages only these.
FULL_LANGUAGES = ("en", "es")
TRANSLATED_ONLY = {"urgent", "help-lines"}
#: ``asked:`` phrasings each section needs, by language (others: at least 2).
MIN_ASKED = {"en": 4, "es": 4}
#: The urgent document's scripts, in the order the bot relies on: door, work, school,
#: someone just taken, stopped now.
URGENT_SCRIPTS = 5
#: Never a source: privacy policies, scraper mirrors, and out-of-state or unrelated pages that
#: stood in for Illinois or federal primary sources.
BANNED_IN_SOURCE_URLS = ("privacy", "rin.pw", "pano.news", "acluarkansas", "aidslawpa", "ucmerced")

Documents = dict[tuple[str, str], Document]


@pytest.fixture(scope="module")
def loaded() -> tuple[Documents, list[str]]:
    result = load_all(KNOWLEDGE, PROJECT_ROOT, int(IndexSettings().max_file_mb * 1_000_000))
    documents = {(d.meta.lang, d.meta.id): d for d in result.documents}
    return documents, [str(e) for e in result.errors]


@pytest.fixture(scope="module")
def documents(loaded: tuple[Documents, list[str]]) -> Documents:
    return loaded[0]


def other_languages(documents: Documents) -> list[str]:
    return sorted({lang for lang, _ in documents} - set(FULL_LANGUAGES))


def digits(number: str) -> str:
    """The number's last 10 digits, as ASCII (any script's digits count)."""
    ascii_digits = "".join(str(unicodedata.digit(c)) for c in number if c.isdigit())
    return ascii_digits[-10:]


def test_every_document_loads(loaded: tuple[Documents, list[str]]) -> None:
    documents, errors = loaded
    assert not errors, errors
    assert len([1 for lang, _ in documents if lang == "en"]) >= 15


def test_spanish_and_english_documents_are_twins(documents: Documents) -> None:
    english = {i for lang, i in documents if lang == "en"}
    spanish = {i for lang, i in documents if lang == "es"}
    assert english == spanish, {"only en": english - spanish, "only es": spanish - english}
    problems = []
    for doc_id in sorted(english):
        en, es = documents[("en", doc_id)], documents[("es", doc_id)]
        if len(es.sections) != len(en.sections):
            problems.append(f"{es.path}: {len(es.sections)} sections, English {len(en.sections)}")
        if (es.meta.jurisdiction, es.meta.urgent) != (en.meta.jurisdiction, en.meta.urgent):
            problems.append(f"{es.path}: jurisdiction or urgent differs from English")
    assert not problems, problems


def test_other_languages_hold_only_urgent_scripts_and_help_lines(documents: Documents) -> None:
    problems = []
    for lang in other_languages(documents):
        ids = {i for language, i in documents if language == lang}
        if ids != TRANSLATED_ONLY:
            problems.append(f"knowledge/{lang}/ holds {sorted(ids)}")
        for doc_id in sorted(ids):
            doc = documents[(lang, doc_id)]
            if not doc.meta.awaiting_native_review:
                problems.append(f"{doc.path}: needs awaiting_native_review: true")
    assert not problems, problems


def test_every_urgent_document_has_five_scripts_ending_with_the_hotline(
    documents: Documents,
) -> None:
    urgent = [d for (_, i), d in documents.items() if i == "urgent"]
    assert {d.meta.lang for d in urgent} >= set(FULL_LANGUAGES)
    problems = []
    for doc in urgent:
        if not doc.meta.urgent:
            problems.append(f"{doc.path}: needs urgent: true")
        if len(doc.sections) != URGENT_SCRIPTS:
            problems.append(f"{doc.path}: {len(doc.sections)} sections, not {URGENT_SCRIPTS}")
        for section in doc.sections:
            # whatever the script's full stop (".", "。", "।", "۔"), the number comes last
            if not section.text.rstrip().rstrip(".。।۔").endswith(HOTLINE):
                problems.append(f"{doc.path}:{section.line}: does not end with {HOTLINE}")
    assert not problems, problems


def test_every_section_names_sources_and_how_residents_ask(documents: Documents) -> None:
    problems = []
    for doc in documents.values():
        need = MIN_ASKED.get(doc.meta.lang, 2)
        for section in doc.sections:
            where = f"{doc.path}:{section.line} {section.heading!r}"
            if not section.sources:
                problems.append(f"{where}: no sources")
            if len(section.asked) < need:
                problems.append(f"{where}: {len(section.asked)} asked, at least {need} needed")
    assert not problems, problems


def test_sections_are_neither_empty_nor_long(documents: Documents) -> None:
    problems = [
        f"{doc.path}: {section.heading!r} has {words} words"
        for doc in documents.values()
        for section in doc.sections
        if not 0 < (words := len(section.text.split())) <= MAX_WORDS
    ]
    assert not problems, problems


def test_every_phone_number_is_in_the_english_help_lines(documents: Documents) -> None:
    listed = {
        digits(n) for s in documents[("en", "help-lines")].sections for n in PHONE.findall(s.text)
    }
    assert digits(HOTLINE) in listed  # the family support hotline
    problems = [
        f"{doc.path}: {number} is not in en/help-lines"
        for doc in documents.values()
        for section in doc.sections
        for number in PHONE.findall(section.text)
        if digits(number) not in listed
    ]
    assert not problems, problems


def test_sources_are_neither_privacy_pages_nor_mirrors(documents: Documents) -> None:
    problems = []
    for doc in documents.values():
        for source in doc.meta.sources:
            url = str(source.url)
            if not url.startswith(("https://", "http://")):
                problems.append(f"{doc.path}: source {source.id} is not a web address")
            banned = [b for b in BANNED_IN_SOURCE_URLS if b in url.lower()]
            if banned:
                problems.append(f"{doc.path}: source {source.id} ({url}) contains {banned}")
    assert not problems, problems

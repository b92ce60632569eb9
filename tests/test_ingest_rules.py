"""`ingest check` enforces every rule knowledge/README.md states: one fixture per rule, each an
exact one-line message at ``file:line`` (or ``file`` for a whole-document rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.check import check
from ingest.settings import PROJECT_ROOT, IndexSettings
from tests.test_ingest import FRONT, SPANISH_ALPHA, asked_for, line_of, section_md, write_md

HOTLINE = "1-855-435-7693"
EN = {
    "What is alpha?": "Alpha is a test document about police.",
    "Who can help?": f"Call the family support hotline at {HOTLINE}.",
}
HELP = {"Who answers the family support hotline?": f"Call {HOTLINE} or 311."}
HELP_ES = {"¿Quién contesta la línea de apoyo familiar?": f"Llame al {HOTLINE} o al 311."}
SCRIPTS = ["At my door?", "At work?", "At school?", "Someone taken?", "Stopped now?"]


def four_asked(heading: str) -> list[str]:
    """The four phrasings English and Spanish sections should have."""
    return [*asked_for(heading), f"{heading.lower()} help", f"what about {heading.lower()}"]


def doc(
    root: Path,
    doc_id: str,
    sections: dict[str, str],
    lang: str = "en",
    front: str = FRONT,
    asked: bool = True,
) -> Path:
    body = "".join(
        section_md(h, t, asked=four_asked(h) if asked else None) for h, t in sections.items()
    )
    return write_md(root, doc_id, body, lang, front)


def urgent(root: Path, lang: str, texts: list[str] | None = None, flag: bool = True) -> Path:
    texts = texts or [f"Stay calm. Call {HOTLINE}." for _ in SCRIPTS]
    front = FRONT.replace("last_verified", f"urgent: {str(flag).lower()}\nlast_verified")
    return doc(root, "urgent", dict(zip(SCRIPTS, texts, strict=False)), lang, front)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small knowledge folder that passes every rule: twins, help-lines, urgent scripts."""
    base = tmp_path / "knowledge"
    doc(base, "alpha", EN)
    doc(base, "alpha", SPANISH_ALPHA, "es")
    doc(base, "help-lines", HELP)
    doc(base, "help-lines", HELP_ES, "es")
    urgent(base, "en")
    urgent(base, "es")
    return base


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "var")


def errors(root: Path, settings: IndexSettings) -> list[str]:
    return [str(e) for e in check(root, settings).errors]


def warnings(root: Path, settings: IndexSettings) -> list[str]:
    return check(root, settings).warnings


def test_the_fixture_folder_passes(root: Path, settings: IndexSettings) -> None:
    report = check(root, settings)
    assert report.ok, [str(e) for e in report.errors]
    assert report.warnings == []


@pytest.mark.parametrize("marks", ["#", "###", "####"])
def test_other_headings_inside_a_section(root: Path, settings: IndexSettings, marks: str) -> None:
    text = f"Alpha is a test document.\n\n{marks} A sub-heading\n\nMore text."
    path = doc(root, "alpha", {**EN, "What is alpha?": text})
    line = line_of(path, f"{marks} A sub-heading")
    assert errors(root, settings) == [
        f"{path.as_posix()}:{line}: {marks} heading inside section 'What is alpha?'; only `## ` "
        "headings are allowed (one per section)"
    ]


def test_a_title_heading_before_the_first_section(root: Path, settings: IndexSettings) -> None:
    path = write_md(
        root,
        "alpha",
        "# Alpha\n\n" + "".join(section_md(h, t, asked=four_asked(h)) for h, t in EN.items()),
    )
    assert errors(root, settings) == [
        f"{path.as_posix()}:{line_of(path, '# Alpha')}: text before the first `## ` heading "
        "(every text belongs to a section)"
    ]


def test_a_section_over_the_word_limit(root: Path, settings: IndexSettings) -> None:
    path = doc(root, "alpha", {**EN, "Who can help?": "Call us. " * 76})
    assert errors(root, settings) == [
        f"{path.as_posix()}:{line_of(path, '## Who can help?')}: section 'Who can help?' has "
        "152 words, over the limit of 150; split it or shorten it"
    ]


def test_a_section_at_the_word_limit_passes(root: Path, settings: IndexSettings) -> None:
    doc(root, "alpha", {**EN, "Who can help?": "Call us. " * 75})
    assert errors(root, settings) == []


def test_a_phone_number_missing_from_the_help_lines(root: Path, settings: IndexSettings) -> None:
    path = doc(root, "alpha", {**EN, "Who can help?": "Call (312) 555-0199 for help."})
    assert errors(root, settings) == [
        f"{path.as_posix()}:{line_of(path, '## Who can help?')}: phone number (312) 555-0199 is "
        f"not in {(root / 'en' / 'help-lines.md').as_posix()}; verify it and add it there first"
    ]


def test_phone_numbers_in_other_scripts_are_compared_by_digits(
    root: Path, settings: IndexSettings
) -> None:
    arabic = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in HOTLINE)
    doc(root, "alpha", {**EN, "Who can help?": f"Call {arabic}."})
    assert errors(root, settings) == []


def test_an_english_document_without_a_spanish_twin(root: Path, settings: IndexSettings) -> None:
    path = doc(root, "beta", {"What is beta?": "Beta is a test."})
    assert warnings(root, settings) == [
        f"{path.as_posix()}: no es twin (es/beta is missing); English and Spanish hold every "
        "document"
    ]


def test_a_spanish_twin_with_other_sections(root: Path, settings: IndexSettings) -> None:
    path = doc(root, "alpha", {"¿Qué es alpha?": "Alpha es una prueba."}, "es")
    assert errors(root, settings) == [
        f"{path.as_posix()}: 1 sections but {(root / 'en' / 'alpha.md').as_posix()} has 2; "
        "twins have the same sections in the same order"
    ]


def test_twins_with_different_jurisdictions(root: Path, settings: IndexSettings) -> None:
    path = doc(root, "alpha", SPANISH_ALPHA, "es", FRONT.replace("Chicago", "Illinois"))
    assert errors(root, settings) == [
        f"{path.as_posix()}: jurisdiction is 'Illinois' but 'Chicago' in its twin "
        f"{(root / 'en' / 'alpha.md').as_posix()}"
    ]


def test_another_language_holds_only_urgent_and_help_lines(
    root: Path, settings: IndexSettings
) -> None:
    front = FRONT.replace("last_verified", "awaiting_native_review: true\nlast_verified")
    doc(root, "help-lines", HELP, "pl", front)
    urgent(root, "pl")
    path = doc(root, "alpha", {"Co to jest alpha?": "Alpha to test."}, "pl", front)
    assert errors(root, settings) == [
        f"{path.as_posix()}: a pl document may only be help-lines or urgent (other languages "
        "hold only the urgent scripts and the help-lines)"
    ]


def test_awaiting_native_review_in_english(root: Path, settings: IndexSettings) -> None:
    front = FRONT.replace("last_verified", "awaiting_native_review: true\nlast_verified")
    path = doc(root, "alpha", EN, "en", front)
    assert errors(root, settings) == [
        f"{path.as_posix()}: awaiting_native_review is only for languages beyond English and "
        "Spanish"
    ]


def test_urgent_document_needs_five_scripts(root: Path, settings: IndexSettings) -> None:
    path = urgent(root, "es", [f"Llame al {HOTLINE}."] * 4)
    assert errors(root, settings) == [
        f"{path.as_posix()}: 4 sections but {(root / 'en' / 'urgent.md').as_posix()} has 5; "
        "twins have the same sections in the same order",
        f"{path.as_posix()}: the urgent document has 4 scripts; it needs exactly 5 (door, work, "
        "school, detained, stopped)",
    ]


def test_each_urgent_script_ends_with_the_hotline(root: Path, settings: IndexSettings) -> None:
    texts = [f"Stay calm. Call {HOTLINE}."] * 4 + [f"Call {HOTLINE}. Then stay calm."]
    path = urgent(root, "en", texts)
    assert errors(root, settings) == [
        f"{path.as_posix()}:{line_of(path, '## Stopped now?')}: urgent script 'Stopped now?' does "
        f"not end with the family support hotline {HOTLINE}"
    ]


def test_the_urgent_flag(root: Path, settings: IndexSettings) -> None:
    unflagged = urgent(root, "en", flag=False)
    flagged = doc(
        root, "alpha", EN, "en", FRONT.replace("last_verified", "urgent: true\nlast_verified")
    )
    es_alpha = (root / "es" / "alpha.md").as_posix()
    es_urgent = (root / "es" / "urgent.md").as_posix()
    assert sorted(errors(root, settings)) == sorted(
        [
            f"{es_alpha}: urgent is False but True in its twin {flagged.as_posix()}",
            f"{es_urgent}: urgent is True but False in its twin {unflagged.as_posix()}",
            f"{flagged.as_posix()}: urgent: true is only for the urgent document",
            f"{unflagged.as_posix()}: the urgent document needs urgent: true",
        ]
    )


def test_fewer_than_four_phrasings_in_english_is_a_warning(
    root: Path, settings: IndexSettings
) -> None:
    path = doc(root, "alpha", EN, asked=False)
    assert warnings(root, settings) == [
        f"{path.as_posix()}:{line_of(path, f'## {h}')}: section {h!r} has 2 question phrasings "
        "(`asked:`); write at least 4 for en"
        for h in EN
    ]


def test_a_heading_that_is_not_a_question_is_a_warning(root: Path, settings: IndexSettings) -> None:
    path = doc(root, "alpha", {"Alpha": EN["What is alpha?"], "Who can help?": EN["Who can help?"]})
    assert warnings(root, settings) == [
        f"{path.as_posix()}:{line_of(path, '## Alpha')}: heading 'Alpha' is not a question; "
        "write it the way a resident would ask it"
    ]


def test_the_real_knowledge_folder_has_no_errors() -> None:
    report = check(PROJECT_ROOT / "knowledge", IndexSettings())
    assert report.ok, [str(e) for e in report.errors]

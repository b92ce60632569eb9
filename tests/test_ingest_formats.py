"""HTML, Word and PDF load into the same Markdown the `.md` path reads: the title is never a
section, lists keep their bullets, and level-2 headings (and only they) start sections."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.check import check
from ingest.loaders import HEADING1_FOR_SECTIONS
from ingest.settings import IndexSettings
from tests.test_ingest import asked_for, section_md, sidecar, write_md

TITLE = "Police and your status"
SECTIONS = {
    "Can police ask about my status?": (
        "No. Chicago police may not ask about your immigration status.",
        ["Stay calm.", "Ask if you are free to go."],
    ),
    "Who can help?": ("Call the family support hotline.", []),
}


def expected_text(paragraph: str, items: list[str]) -> str:
    """How the `.md` path stores a section: the paragraph, then its list with `- ` bullets."""
    return paragraph + ("\n\n" + "\n".join(f"- {i}" for i in items) if items else "")


def md_sections() -> list[tuple[str, str]]:
    return [(h, expected_text(p, items)) for h, (p, items) in SECTIONS.items()]


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "var")


def write_sidecar(path: Path, headings: list[str] | None = None) -> None:
    headings = list(SECTIONS) if headings is None else headings
    given = [{"sources": ["chicago-code"], "asked": asked_for(h)} for h in headings]
    path.with_name(path.name + ".meta.yaml").write_text(sidecar(path.stem, given), "utf-8")


def sections_of(root: Path, settings: IndexSettings) -> dict[str, list[tuple[str, str]]]:
    report = check(root, settings)
    assert report.ok, [str(e) for e in report.errors]
    return {
        d.path.rsplit("/", 1)[-1]: [(s.heading, s.text) for s in d.sections]
        for d in report.documents
    }


def html_document(h1: str = f"<h1>{TITLE}</h1>", lead: str = "", extra: str = "") -> str:
    body = [h1, lead]
    for heading, (paragraph, items) in SECTIONS.items():
        body.append(f"<h2>{heading}</h2><p>{paragraph}</p>{extra}")
        if items:
            body.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    return (
        f"<html><head><title>{TITLE}</title><style>p {{}}</style></head><body>"
        f"<nav>Home</nav>{''.join(body)}<script>track()</script></body></html>"
    )


def word_document(path: Path, title_style: str | None = "Title", level: int = 2) -> None:
    import docx

    document = docx.Document()
    if title_style == "Title":
        document.add_heading(TITLE, level=0)
    elif title_style == "Heading 1":
        document.add_heading(TITLE, level=1)
    for heading, (paragraph, items) in SECTIONS.items():
        document.add_heading(heading, level=level)
        document.add_paragraph(paragraph)
        for item in items:
            document.add_paragraph(item, style="List Bullet")
    document.save(str(path))


def pdf_document(path: Path, lines: list[tuple[float, str]]) -> None:
    """A one-page PDF drawing each line in Helvetica at its font size (pypdf has no drawing API, so
    the page's content stream is written out directly)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    y, ops = 740.0, []
    for size, text in lines:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"BT /F1 {size} Tf 72 {y:.0f} Td ({escaped}) Tj ET")
        y -= size * 1.6
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("cp1252"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())


def pdf_lines(with_title: bool = True, heading_size: float = 14) -> list[tuple[float, str]]:
    lines: list[tuple[float, str]] = [(20, TITLE)] if with_title else []
    for heading, (paragraph, items) in SECTIONS.items():
        lines.append((heading_size, heading))
        # a paragraph wrapped over two lines, as PDFs draw it
        first, _, rest = paragraph.partition(" ")
        lines += [(11, first), (11, rest)]
        lines += [(11, f"\u2022 {item}") for item in items]
    return lines


def test_every_format_gives_the_markdown_the_md_path_reads(
    tmp_path: Path, settings: IndexSettings
) -> None:
    root = tmp_path / "k"
    body = "".join(
        section_md(h, expected_text(p, items), asked=asked_for(h))
        for h, (p, items) in SECTIONS.items()
    )
    write_md(root, "page-md", body)
    folder = root / "en"
    html = folder / "page-html.html"
    html.write_text(html_document(), "utf-8")
    word = folder / "page-word.docx"
    word_document(word)
    word_h1 = folder / "page-word-h1.docx"
    word_document(word_h1, title_style="Heading 1")
    pdf = folder / "page-pdf.pdf"
    pdf_document(pdf, pdf_lines())
    for path in (html, word, word_h1, pdf):
        write_sidecar(path)

    found = sections_of(root, settings)
    assert found["page-md.md"] == md_sections()
    for name in ("page-html.html", "page-word.docx", "page-word-h1.docx", "page-pdf.pdf"):
        assert found[name] == md_sections(), name
        assert all(heading != TITLE for heading, _ in found[name]), name


def test_a_word_file_with_heading_1_sections_is_one_clear_error(
    tmp_path: Path, settings: IndexSettings
) -> None:
    path = tmp_path / "k" / "en" / "sections-h1.docx"
    path.parent.mkdir(parents=True)
    word_document(path, title_style=None, level=1)
    write_sidecar(path)
    assert [str(e) for e in check(tmp_path / "k", settings).errors] == [
        f"{path.as_posix()}: {HEADING1_FOR_SECTIONS}"
    ]


@pytest.mark.parametrize(
    ("html", "message"),
    [
        (
            html_document(lead="<p>An introduction that belongs to no section.</p>"),
            "text before the first `## ` heading (every text belongs to a section)",
        ),
        (
            html_document(extra="<h3>More</h3><p>Detail.</p>"),
            "### heading inside section 'Can police ask about my status?'; only `## ` headings "
            "are allowed (one per section)",
        ),
    ],
)
def test_html_that_breaks_the_heading_rules(
    tmp_path: Path, settings: IndexSettings, html: str, message: str
) -> None:
    path = tmp_path / "k" / "en" / "page.html"
    path.parent.mkdir(parents=True)
    path.write_text(html, "utf-8")
    write_sidecar(path)
    errors = [str(e) for e in check(tmp_path / "k", settings).errors]
    assert errors[0] == f"{path.as_posix()}: {message}"


def test_a_pdf_without_larger_headings_is_one_clear_error(
    tmp_path: Path, settings: IndexSettings
) -> None:
    path = tmp_path / "k" / "en" / "flat.pdf"
    path.parent.mkdir(parents=True)
    pdf_document(path, [(11, text) for _, text in pdf_lines(with_title=False)])
    write_sidecar(path)
    assert [str(e) for e in check(tmp_path / "k", settings).errors] == [
        f"{path.as_posix()}: text before the first `## ` heading (every text belongs to a section)"
    ]


def test_a_pdf_without_a_title_keeps_every_section(tmp_path: Path, settings: IndexSettings) -> None:
    path = tmp_path / "k" / "en" / "untitled.pdf"
    path.parent.mkdir(parents=True)
    pdf_document(path, pdf_lines(with_title=False))
    write_sidecar(path)
    assert sections_of(tmp_path / "k", settings)["untitled.pdf"] == md_sections()

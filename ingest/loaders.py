"""Read knowledge files into validated :class:`Document` objects, one clear error per bad file.

Markdown carries its fields in YAML front matter; .txt, .html, .pdf and .docx carry them in a
sidecar ``<file>.meta.yaml``. Every format becomes the Markdown a ``.md`` file holds, through
maintained converters (markdownify for HTML, mammoth then the HTML path for Word, pypdf's font sizes
for PDF), and in every format a level-2 heading (``## ``, an ``<h2>``, Word's "Heading 2", a PDF
line in the section-heading font size) starts a citable section; level 1 is the title and never a
section. Any error is one :class:`DocumentError` line naming the file (and line where known).

In Markdown, each section's metadata sits in an HTML comment on the line after its heading (never
quoted to residents)::

    ## Do I have to open the door?
    <!--
    sources: il-ag-kyr, trust-act
    asked: do i have to open the door for ice
    asked: ice knocking do i open
    -->

Other formats give the same per section in the sidecar, as ``sections: [{sources: [...], asked:
[...]}, ...]`` in section order.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ingest.schema import Document, DocumentMeta, Section, relative_path

DOCUMENT_SUFFIXES = (".md", ".txt", ".html", ".htm", ".pdf", ".docx")
SIDECAR_SUFFIX = ".meta.yaml"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_META_BLOCK = re.compile(r"\A[ \t]*\n?[ \t]*<!--(.*?)-->[ \t]*(?:\n|\Z)", re.S)
#: Keys of a section's metadata block.
SECTION_KEYS = ("sources", "asked")
#: A document may not make more index entries than this (a passage per section plus its heading and
#: each ``asked:`` line); a bigger one would take minutes to embed and should be split.
MAX_ENTRIES_PER_DOCUMENT = 400

log = logging.getLogger(__name__)


class DocumentError(Exception):
    """A document that cannot be ingested; ``str()`` is one line naming the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class LoadResult:
    """Every document that loaded, and one error per file that did not."""

    documents: list[Document]
    errors: list[DocumentError]


def discover(root: Path) -> Iterator[Path]:
    """Yield the document files under ``root`` (README files and sidecars excluded)."""
    yield from scan(root).files


@dataclass(frozen=True)
class Scan:
    """The document files found under a folder, and the entries refused on the way."""

    files: list[Path]
    errors: list[DocumentError]


def _is_candidate(name: str) -> bool:
    lower = name.lower()
    if name.startswith(".") or lower.startswith("readme") or name.endswith(SIDECAR_SUFFIX):
        return False
    return Path(lower).suffix in DOCUMENT_SUFFIXES


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def scan(root: Path) -> Scan:
    """Walk ``root`` without leaving it.

    A symlink is followed only when it resolves inside ``root``: content outside the vetted folder
    must never become "vetted" by a link. A link to outside, a dangling link and a special file
    (FIFO, device, socket) with a document's name are refused with a message; none is opened.
    """
    real_root = root.resolve()
    files: list[Path] = []
    errors: list[DocumentError] = []
    # os.walk does not follow symlinked folders; each is judged below instead
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        for name in sorted(dirnames):
            entry = here / name
            if name.startswith(".") or not entry.is_symlink():
                continue
            # a link to a folder inside is not followed: the walk reaches its files directly
            # (following it could loop); a link to a folder outside is refused
            if not _inside(entry.resolve(), real_root):
                errors.append(
                    DocumentError(
                        entry.as_posix(),
                        "symlink to a folder outside the knowledge folder; refused",
                    )
                )
        dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
        for name in sorted(filenames):
            if not _is_candidate(name):
                continue
            entry = here / name
            problem = _refusal(entry, real_root)
            if problem:
                errors.append(DocumentError(entry.as_posix(), problem))
            else:
                files.append(entry)
    return Scan(sorted(files), errors)


def _refusal(entry: Path, real_root: Path) -> str:
    """Why ``entry`` may not be read (empty when it may)."""
    if entry.is_symlink():
        try:
            target = entry.resolve(strict=True)
        except (OSError, RuntimeError):
            return "dangling symlink; refused"
        if not _inside(target, real_root):
            return (
                "symlink to a file outside the knowledge folder; refused "
                "(copy the file in if it is vetted)"
            )
    try:
        mode = entry.stat().st_mode
    except OSError as err:
        return f"cannot be read ({type(err).__name__})"
    if not stat.S_ISREG(mode):
        return "not a regular file; refused"
    return ""


def load_all(root: Path, project_root: Path, max_bytes: int) -> LoadResult:
    """Load every document under ``root``; collect errors instead of stopping at the first."""
    documents: list[Document] = []
    errors: list[DocumentError] = []
    if not root.is_dir():
        errors.append(DocumentError(str(root), "not a directory"))
        return LoadResult(documents, errors)
    found = scan(root)
    errors.extend(
        DocumentError(relative_path(Path(e.path), project_root), e.reason) for e in found.errors
    )
    for path in found.files:
        try:
            documents.append(load_document(path, project_root, max_bytes, root))
        except DocumentError as err:
            errors.append(err)
        except Exception as err:  # a converter's own error type: still one line, never a crash
            log.debug("unexpected error loading %s", path, exc_info=True)
            errors.append(
                DocumentError(
                    relative_path(path, project_root), f"cannot be read ({type(err).__name__})"
                )
            )
    errors.extend(_duplicate_errors(documents))
    if not documents and not errors:
        errors.append(DocumentError(str(root), "no documents found"))
    return LoadResult(documents, errors)


def _duplicate_errors(documents: Iterable[Document]) -> list[DocumentError]:
    seen: dict[str, str] = {}
    errors = []
    for doc in documents:
        if doc.key in seen:
            errors.append(
                DocumentError(
                    doc.path,
                    f"duplicate id {doc.meta.id!r} for language "
                    f"{doc.meta.lang!r} (also in {seen[doc.key]})",
                )
            )
        else:
            seen[doc.key] = doc.path
    return errors


def load_document(
    path: Path, project_root: Path, max_bytes: int, root: Path | None = None
) -> Document:
    """Load and validate one file; raise :class:`DocumentError` with a one-line reason.

    ``root`` is the knowledge folder: a sidecar that is a link leaving it is refused.
    """
    rel = relative_path(path, project_root)
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(rel, "empty file")
    if size > max_bytes:
        raise DocumentError(
            rel, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        )
    suffix = path.suffix.lower()
    first_line = 1
    if suffix == ".md":
        text = _read_text(rel, path)
        fields, body = _split_front_matter(rel, text)
        first_line = text[: len(text) - len(body)].count("\n") + 1
        meta = _validate_meta(rel, fields, text)
        per_section: list[Any] | None = None
    else:
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        side_rel = relative_path(sidecar, project_root)
        fields, side_text = _read_sidecar(rel, side_rel, sidecar, root)
        per_section = fields.pop("sections", None)
        meta = _validate_meta(side_rel, fields, side_text)
        body = _extract_body(rel, path, suffix)
    if meta.id != path.stem:
        raise DocumentError(rel, f"id {meta.id!r} does not match the file name {path.stem!r}")
    if path.parent.name != meta.lang:
        raise DocumentError(
            rel, f"lang {meta.lang!r} does not match the folder {path.parent.name!r}"
        )
    sections = split_sections(
        body, meta.title, first_line, rel, lines_known=suffix in (".md", ".txt")
    )
    if per_section is not None:
        sections = _sidecar_sections(rel, sections, per_section)
    if not sections:
        raise DocumentError(rel, "no text (expected `## ` sections with text)")
    known = {s.id for s in meta.sources}
    for section in sections:
        where = f"{rel}:{section.line}" if section.line else rel
        if not section.text:
            raise DocumentError(where, f"section {section.heading!r} is empty")
        unknown = [s for s in section.sources if s not in known]
        if unknown:
            raise DocumentError(
                where,
                f"section {section.heading!r} names source(s) {', '.join(unknown)} "
                "that the front matter does not list",
            )
    entries = sum(1 + len(dict.fromkeys([s.heading, *s.asked])) for s in sections)
    if entries > MAX_ENTRIES_PER_DOCUMENT:
        raise DocumentError(
            rel,
            f"{len(sections)} sections make {entries} index entries, over the limit of "
            f"{MAX_ENTRIES_PER_DOCUMENT} per document; split it into several documents",
        )
    return Document(meta=meta, path=rel, sections=tuple(sections))


def _sidecar_sections(rel: str, sections: list[Section], given: Any) -> list[Section]:
    """Attach the sidecar's per-section ``sources`` and ``asked`` lists, in section order."""
    if not isinstance(given, list) or not all(isinstance(g, dict) for g in given):
        raise DocumentError(rel, "sidecar field 'sections' must be a list of mappings")
    if len(given) != len(sections):
        raise DocumentError(
            rel, f"sidecar lists {len(given)} sections but the file has {len(sections)}"
        )
    out = []
    for section, entry in zip(sections, given, strict=True):
        extra = set(entry) - set(SECTION_KEYS)
        if extra:
            raise DocumentError(rel, f"sidecar section keys {sorted(extra)} are unknown")
        lists = {k: entry.get(k) or [] for k in SECTION_KEYS}
        if not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists.values()
        ):
            raise DocumentError(rel, "sidecar 'sources' and 'asked' must be lists of strings")
        out.append(replace(section, sources=tuple(lists["sources"]), asked=tuple(lists["asked"])))
    return out


def _read_text(rel: str, path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DocumentError(rel, f"cannot be read ({type(err).__name__})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(rel, f"not valid UTF-8 text (byte {err.start})") from None
    if "\x00" in text:
        raise DocumentError(rel, "contains NUL bytes; not a text file")
    return text


def _split_front_matter(rel: str, text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise DocumentError(rel, "no YAML front matter (the file must start with a --- block)")
    return _parse_yaml(rel, match.group(1), 1), match.group(2)


class _FieldLoader(yaml.SafeLoader):
    """PyYAML's safe loader without its implicit timestamps: a date stays text until pydantic
    reads it, so ``2026-13-01`` is a clear field error instead of a ``ValueError`` from PyYAML."""


_FieldLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_yaml(rel: str, text: str, offset: int) -> dict[str, Any]:
    """Parse a YAML mapping; ``offset`` is the number of file lines before ``text``."""
    try:
        data = yaml.load(text, Loader=_FieldLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1 + offset}" if mark is not None else ""
        raise DocumentError(rel, f"front matter is not valid YAML{where}") from None
    except RecursionError:
        raise DocumentError(rel, "front matter is nested too deeply to be read") from None
    if not isinstance(data, dict):
        raise DocumentError(rel, "front matter must be a mapping of fields")
    return data


def _read_sidecar(
    rel: str, side_rel: str, sidecar: Path, root: Path | None
) -> tuple[dict[str, Any], str]:
    """The sidecar's fields and text; errors name the sidecar, never echo a value it holds."""
    if not sidecar.exists() and not sidecar.is_symlink():
        raise DocumentError(rel, f"missing sidecar {sidecar.name} with the document's fields")
    if root is not None:
        problem = _refusal(sidecar, root.resolve())
        if problem:
            raise DocumentError(side_rel, problem)
    text = _read_text(side_rel, sidecar)
    return _parse_yaml(side_rel, text, 0), text


def _field_line(text: str, name: str) -> int:
    """The line of the first top-level ``name:`` in a file's text (0 when not found)."""
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"{re.escape(name)}[ \t]*:", line):
            return number
    return 0


def _validate_meta(rel: str, fields: dict[str, Any], text: str = "") -> DocumentMeta:
    """Validate the fields; the first problem's field gives the line (``rel:line``) when known."""
    try:
        return DocumentMeta.model_validate(fields)
    except ValidationError as err:
        problems = []
        line = 0
        for item in err.errors():
            name = ".".join(str(p) for p in item["loc"]) or "front matter"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "missing"
            elif item["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(f"field {name!r}: {message}")
            if not line and item["loc"] and item["type"] != "missing":
                line = _field_line(text, str(item["loc"][0]))
        where = f"{rel}:{line}" if line else rel
        raise DocumentError(where, "; ".join(problems)) from None


#: Markdown as the ``.md`` path reads it: ATX headings (``## ``), ``- `` bullets, and no escapes,
#: links or emphasis (a resident sees the words exactly as written).
_MARKDOWNIFY: dict[str, Any] = {
    "heading_style": "ATX",
    "bullets": "-",
    "strip": ["a", "b", "strong", "i", "em", "u", "span", "img", "font"],
    "escape_asterisks": False,
    "escape_underscores": False,
    "escape_misc": False,
}
#: Word styles that mammoth does not map by itself: the "Title" style is the title (an ``<h1>``).
_MAMMOTH_STYLES = "p[style-name='Title'] => h1:fresh\np[style-name='Subtitle'] => p:fresh"
HEADING1_FOR_SECTIONS = (
    "uses level-1 headings for its sections; a section heading must be level 2 (an <h2>, "
    "Word's Heading 2) and level 1 is only the title"
)


def _extract_body(rel: str, path: Path, suffix: str) -> str:
    """Turn a non-Markdown file into the Markdown the ``.md`` path reads (``## `` sections)."""
    if suffix == ".txt":
        return _read_text(rel, path)
    if suffix in (".html", ".htm"):
        return html_to_markdown(rel, _read_text(rel, path))
    if suffix == ".pdf":
        return _pdf_text(rel, path)
    if suffix == ".docx":
        return _docx_text(rel, path)
    raise DocumentError(rel, f"unsupported file type {suffix}")


def html_to_markdown(rel: str, html: str) -> str:
    """HTML to Markdown through markdownify: ``<h2>`` starts a section, the first ``<h1>`` before
    it is the title and is dropped (the sidecar's ``title`` is the title), lists keep ``- ``."""
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["head", "title", "script", "style", "noscript", "nav", "header", "footer"]):
        tag.decompose()
    h1s, h2s = soup.find_all("h1"), soup.find_all("h2")
    if not h2s and len(h1s) >= 2:
        raise DocumentError(rel, HEADING1_FOR_SECTIONS)
    first_h2 = h2s[0] if h2s else None
    if h1s and (first_h2 is None or h1s[0] in first_h2.find_all_previous("h1")):
        h1s[0].decompose()
    return str(markdownify(str(soup), **_MARKDOWNIFY))


def _pdf_text(rel: str, path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise DocumentError(rel, "unreadable PDF (encrypted)")
        return pdf_to_markdown([_pdf_lines(page) for page in reader.pages])
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as err:
        raise DocumentError(rel, f"unreadable PDF ({type(err).__name__})") from None


def _pdf_lines(page: Any) -> list[tuple[str, float]]:
    """A page's text lines, each with the largest font size used on it."""
    lines: list[tuple[str, float]] = []
    current: list[str] = []
    size = 0.0

    def visit(text: str, cm: Any, tm: Any, font: Any, font_size: float) -> None:
        nonlocal size
        scale = abs(float(tm[3]) * float(cm[3])) or 1.0
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if index:
                _flush()
            if part.strip():
                current.append(part)
                size = max(size, float(font_size) * scale)

    def _flush() -> None:
        nonlocal size
        line = "".join(current).strip()
        if line:
            lines.append((line, round(size, 1)))
        current.clear()
        size = 0.0

    page.extract_text(visitor_text=visit)
    _flush()
    return lines


#: A PDF line at least this much larger than the body text is a heading.
PDF_HEADING_RATIO = 1.15
_PDF_BULLET = re.compile(r"^[•●▪◦‣∙·]\s*")


def pdf_to_markdown(pages: list[list[tuple[str, float]]]) -> str:
    """Rebuild sections from a PDF's font sizes (PDF has no heading markup).

    The body size is the size most of the text uses. Lines in a larger size are headings: when
    there are two larger sizes, the larger is the title (dropped) and the other starts sections;
    with one, a single line of it at the very start is the title and any others start sections.
    Lines already written as ``## ...`` stay headings; ``•`` bullets become ``- ``; wrapped lines
    of a paragraph are joined (PDF has no paragraph markup either).
    """
    lines = [line for page in pages for line in page]
    if not lines:
        return ""
    weight: dict[float, int] = {}
    for text, size in lines:
        weight[size] = weight.get(size, 0) + len(text)
    body = max(weight, key=lambda k: weight[k])
    larger = sorted({size for _, size in lines if size >= body * PDF_HEADING_RATIO}, reverse=True)
    title_size = None
    if len(larger) >= 2 or (
        len(larger) == 1
        and [s for _, s in lines].count(larger[0]) == 1
        and lines[0][1] == larger[0]
    ):
        title_size = larger[0]
    out: list[str] = []
    kind = ""  # what the last output line was: "", "heading", "para" or "item"
    for text, size in lines:
        if size == title_size:
            continue
        if size in larger or _HEADING.match(text):
            out += ["", f"## {text.lstrip('#').strip()}", ""]
            kind = "heading"
        elif _PDF_BULLET.match(text) or text.startswith("- "):
            if kind == "para":
                out.append("")
            out.append("- " + _PDF_BULLET.sub("", text).removeprefix("- "))
            kind = "item"
        elif kind == "para":
            out[-1] += " " + text  # a wrapped line of the same paragraph
        else:
            if kind == "item":
                out.append("")
            out.append(text)
            kind = "para"
    return "\n".join(out)


def _docx_text(rel: str, path: Path) -> str:
    """Word to HTML through mammoth (Heading 2 becomes ``<h2>``, lists stay lists), then to
    Markdown by the HTML path, so both formats give the same Markdown."""
    import zipfile

    import mammoth

    if not zipfile.is_zipfile(path):
        raise DocumentError(rel, "unreadable Word document (not a .docx package)")
    try:
        with path.open("rb") as handle:
            html = mammoth.convert_to_html(handle, style_map=_MAMMOTH_STYLES).value
    except Exception as err:  # mammoth, zipfile and the XML parser raise many types for damage
        raise DocumentError(rel, f"unreadable Word document ({type(err).__name__})") from None
    return html_to_markdown(rel, str(html))


def split_sections(
    body: str, title: str, first_line: int = 1, strict: str = "", lines_known: bool = True
) -> list[Section]:
    """Split Markdown on ``## `` headings, reading each section's metadata block.

    Text before the first heading is an error when ``strict`` (the file's path) is given: the
    writing rules put every text in a section, and the title is never one. Without ``strict`` it
    goes under ``title``. ``lines_known`` is False for converted formats (HTML, Word, PDF), whose
    Markdown lines are not the file's lines: errors then name the file only.
    """
    text = body.replace("\r\n", "\n")
    parts = _HEADING.split(text)
    sections = []
    lead = _clean(parts[0])
    if lead and strict:
        skipped = parts[0][: len(parts[0]) - len(parts[0].lstrip())].count(chr(10))
        where = f"{strict}:{first_line + skipped}" if lines_known else strict
        raise DocumentError(
            where, "text before the first `## ` heading (every text belongs to a section)"
        )
    if lead:
        sections.append(Section(heading=title, text=lead))
    line = first_line + parts[0].count("\n")
    for heading, section_text in zip(parts[1::2], parts[2::2], strict=True):
        sources, asked, rest = _section_block(section_text, strict if lines_known else "", line)
        sections.append(
            Section(
                heading=heading.strip(),
                text=_clean(rest),
                sources=sources,
                asked=asked,
                line=line if lines_known else 0,
            )
        )
        line += section_text.count("\n")
    return sections


def _section_block(text: str, rel: str, line: int) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The ``<!-- sources: / asked: -->`` block right after a heading, and the text after it."""
    match = _META_BLOCK.match(text)
    if not match:
        return (), (), text
    sources: list[str] = []
    asked: list[str] = []
    for offset, raw in enumerate(match.group(1).splitlines()):
        entry = raw.strip()
        if not entry:
            continue
        key, sep, value = entry.partition(":")
        key = key.strip().lower()
        if not sep or key not in SECTION_KEYS:
            raise DocumentError(
                f"{rel}:{line + 1 + offset}" if rel else f"line {line + 1 + offset}",
                f"section metadata line must start with 'sources:' or 'asked:' (got {entry[:40]!r})",
            )
        if key == "sources":
            sources += [s.strip() for s in value.split(",") if s.strip()]
        elif value.strip():
            asked.append(value.strip())
    return tuple(sources), tuple(asked), text[match.end() :]


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip()

"""Read knowledge files into validated :class:`Document` objects, one clear error per bad file.

Markdown carries its fields in YAML front matter; .txt, .html, .pdf and .docx carry them in a
sidecar ``<file>.meta.yaml``. In every format a ``## `` heading (an ``<h2>`` in HTML, a
"Heading 2" paragraph in Word) starts a citable section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ingest.schema import Document, DocumentMeta, Section, relative_path

DOCUMENT_SUFFIXES = (".md", ".txt", ".html", ".htm", ".pdf", ".docx")
SIDECAR_SUFFIX = ".meta.yaml"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


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
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.name.lower().startswith("readme") or path.name.endswith(SIDECAR_SUFFIX):
            continue
        if path.suffix.lower() in DOCUMENT_SUFFIXES:
            yield path


def load_all(root: Path, project_root: Path, max_bytes: int) -> LoadResult:
    """Load every document under ``root``; collect errors instead of stopping at the first."""
    documents: list[Document] = []
    errors: list[DocumentError] = []
    if not root.is_dir():
        errors.append(DocumentError(str(root), "not a directory"))
        return LoadResult(documents, errors)
    for path in discover(root):
        try:
            documents.append(load_document(path, project_root, max_bytes))
        except DocumentError as err:
            errors.append(err)
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


def load_document(path: Path, project_root: Path, max_bytes: int) -> Document:
    """Load and validate one file; raise :class:`DocumentError` with a one-line reason."""
    rel = relative_path(path, project_root)
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(rel, "empty file")
    if size > max_bytes:
        raise DocumentError(
            rel, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        )
    suffix = path.suffix.lower()
    if suffix == ".md":
        fields, body = _split_front_matter(rel, _read_text(rel, path))
    else:
        fields = _read_sidecar(rel, path)
        body = _extract_body(rel, path, suffix)
    meta = _validate_meta(rel, fields)
    if meta.id != path.stem:
        raise DocumentError(rel, f"id {meta.id!r} does not match the file name {path.stem!r}")
    if path.parent.name != meta.lang:
        raise DocumentError(
            rel, f"lang {meta.lang!r} does not match the folder {path.parent.name!r}"
        )
    sections = split_sections(body, meta.title)
    if not sections:
        raise DocumentError(rel, "no text (expected `## ` sections with text)")
    for section in sections:
        if not section.text:
            raise DocumentError(rel, f"section {section.heading!r} is empty")
    return Document(meta=meta, path=rel, sections=tuple(sections))


def _read_text(rel: str, path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(rel, f"not valid UTF-8 text (byte {err.start})") from None
    if "\x00" in text:
        raise DocumentError(rel, "contains NUL bytes; not a text file")
    return text


def _split_front_matter(rel: str, text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise DocumentError(rel, "no YAML front matter (the file must start with a --- block)")
    return _parse_yaml(rel, match.group(1)), match.group(2)


def _parse_yaml(rel: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DocumentError(rel, f"front matter is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise DocumentError(rel, "front matter must be a mapping of fields")
    return data


def _read_sidecar(rel: str, path: Path) -> dict[str, Any]:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        raise DocumentError(rel, f"missing sidecar {sidecar.name} with the document's fields")
    return _parse_yaml(rel, _read_text(rel, sidecar))


def _validate_meta(rel: str, fields: dict[str, Any]) -> DocumentMeta:
    try:
        return DocumentMeta.model_validate(fields)
    except ValidationError as err:
        problems = []
        for item in err.errors():
            name = ".".join(str(p) for p in item["loc"]) or "front matter"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "missing"
            elif item["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(f"field {name!r}: {message}")
        raise DocumentError(rel, "; ".join(problems)) from None


def _extract_body(rel: str, path: Path, suffix: str) -> str:
    """Turn a non-Markdown file into Markdown-like text with ``## `` headings."""
    if suffix == ".txt":
        return _read_text(rel, path)
    if suffix in (".html", ".htm"):
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(_read_text(rel, path), "html.parser")
        for tag in soup(["script", "style", "nav", "header", "footer"]):
            tag.decompose()
        for h2 in soup.find_all("h2"):
            h2.replace_with(f"\n## {h2.get_text(' ', strip=True)}\n")
        return soup.get_text("\n")
    if suffix == ".pdf":
        return _pdf_text(rel, path)
    if suffix == ".docx":
        return _docx_text(rel, path)
    raise DocumentError(rel, f"unsupported file type {suffix}")


def _pdf_text(rel: str, path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as err:
        raise DocumentError(rel, f"unreadable PDF ({type(err).__name__})") from None


def _docx_text(rel: str, path: Path) -> str:
    import zipfile

    import docx

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise DocumentError(rel, f"unreadable Word document ({type(err).__name__})") from None
    lines = []
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        prefix = "## " if style.lower().startswith("heading 2") else ""
        lines.append(prefix + paragraph.text)
    return "\n".join(lines)


def split_sections(body: str, title: str) -> list[Section]:
    """Split text on ``## `` headings; text before the first heading goes under the title."""
    text = body.replace("\r\n", "\n")
    parts = _HEADING.split(text)
    sections = []
    lead = _clean(parts[0])
    if lead:
        sections.append(Section(heading=title, text=lead))
    for heading, section_text in zip(parts[1::2], parts[2::2], strict=True):
        sections.append(Section(heading=heading.strip(), text=_clean(section_text)))
    return sections


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip()

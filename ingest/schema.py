"""The document schema: front-matter fields, sections, and the chunks stored in the index."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

Jurisdiction = Literal["Chicago", "Cook County", "Illinois", "United States", "General"]

#: ISO 639-1 codes accepted for documents. Extend when a translation in a new language arrives.
KNOWN_LANGUAGES = frozenset(
    [
        "ar",
        "bn",
        "de",
        "en",
        "es",
        "fr",
        "hi",
        "ht",
        "ko",
        "pl",
        "pt",
        "ru",
        "so",
        "sw",
        "tl",
        "uk",
        "ur",
        "vi",
        "zh",
    ]
)


SourceKind = Literal["law", "court", "government", "service", "guide", "news"]
#: Kinds that count as primary: the law itself, a court, a government's own page, or an
#: organisation's own page about its own service. ``ingest check`` warns when a section links another.
PRIMARY_KINDS = frozenset(["law", "court", "government", "service"])


class Source(BaseModel):
    """A source that the document's statements rest on; sections refer to it by ``id``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)
    title: str = Field(min_length=1)
    url: HttpUrl
    kind: SourceKind


class DocumentMeta(BaseModel):
    """Front matter of a knowledge document (or its sidecar ``.meta.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]+$", max_length=80)
    lang: str
    title: str = Field(min_length=1)
    jurisdiction: Jurisdiction
    topics: list[str] = Field(default_factory=list)
    summary: str | None = None
    sources: list[Source] = Field(min_length=1)
    last_verified: date
    reviewer: str | None = None
    urgent: bool = False
    #: A translation (beyond English and Spanish) that no native-speaking legal worker has reviewed.
    awaiting_native_review: bool = False

    @field_validator("lang")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in KNOWN_LANGUAGES:
            raise ValueError(f"unknown language {value!r} (expected an ISO 639-1 code)")
        return value

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, value: list[Source]) -> list[Source]:
        ids = [s.id for s in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"source ids must be unique (repeated: {', '.join(repeated)})")
        return value

    def source(self, source_id: str) -> Source | None:
        """The source with this id, if listed."""
        return next((s for s in self.sources if s.id == source_id), None)

    @field_validator("topics")
    @classmethod
    def _slugs(cls, value: list[str]) -> list[str]:
        for topic in value:
            if (
                not topic
                or not all(c.isalnum() or c == "-" for c in topic)
                or topic.lower() != topic
            ):
                raise ValueError(f"topic {topic!r} is not a short lowercase slug")
        return value

    @field_validator("summary")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and "\n" in value.strip():
            raise ValueError("summary must be one line")
        return value


@dataclass(frozen=True)
class Section:
    """One citable part of a document: a ``## `` heading, its text, and its metadata block.

    ``sources`` are ids of the document's sources (the first is the one a citation links);
    ``asked`` are other ways residents ask the heading's question (matched, never quoted).
    """

    heading: str
    text: str
    sources: tuple[str, ...] = ()
    asked: tuple[str, ...] = ()
    line: int = 0  # line of the heading in the file (1-based; 0 when unknown)


@dataclass(frozen=True)
class Document:
    """A validated document ready to be chunked."""

    meta: DocumentMeta
    path: str  # relative to the project root, with forward slashes
    sections: tuple[Section, ...]

    @property
    def key(self) -> str:
        """Unique key of the document in the index: ``lang/id``."""
        return f"{self.meta.lang}/{self.meta.id}"


@dataclass(frozen=True)
class Chunk:
    """A piece of one section with everything a citation needs."""

    id: str
    text: str
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def doc_key(self) -> str:
        """The ``lang/id`` key of the document the chunk belongs to."""
        return f"{self.metadata['lang']}/{self.metadata['doc_id']}"


def content_hash(text: str, metadata: dict[str, str | int | float | bool]) -> str:
    """Hash of a chunk's text and metadata: unchanged hash means no re-embedding."""
    payload = json.dumps({"text": text, "meta": metadata}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def relative_path(path: Path, root: Path) -> str:
    """The path relative to ``root`` when inside it, else as given (always with ``/``)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()

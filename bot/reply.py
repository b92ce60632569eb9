"""What the engine returns: a reply as data (kind, quoted body, citations), rendered by each front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: ``smalltalk``: a short reply to a greeting, thanks, "are you a bot?" or "a person, please".
Kind = Literal["answer", "no_answer", "declined", "urgent", "smalltalk"]


@dataclass(frozen=True)
class Citation:
    """One numbered source of a reply; only ever built from a retrieved section."""

    n: int
    title: str
    section: str
    url: str
    source: str  # path of the cited file relative to the project root
    checked_on: str  # the document's last_verified date
    doc_id: str = ""
    section_index: int = 0
    lang: str = ""

    def to_json(self) -> dict[str, Any]:
        """The citation fields of the JSON reply."""
        return {
            "n": self.n,
            "title": self.title,
            "section": self.section,
            "url": self.url,
            "source": self.source,
            "checked_on": self.checked_on,
            "doc_id": self.doc_id,
            "lang": self.lang,
            "section_index": self.section_index,
        }


@dataclass(frozen=True)
class Reply:
    """A complete reply. ``body`` carries ``[n]`` markers that refer to ``citations``."""

    question: str
    language: str
    kind: Kind
    body: str
    citations: tuple[Citation, ...] = ()
    notice: str = ""  # e.g. which languages are available, shown first
    footer: str = ""  # the not-legal-advice line and where to get help
    sources_label: str = "Sources"
    checked_label: str = "checked on"
    latency_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def citation_lines(self) -> list[str]:
        """Plain-text citation lines, one short line each: ``[1] Title: URL``."""
        return [f"[{c.n}] {c.title}: {c.url}" for c in self.citations]

    @property
    def checked_on(self) -> str:
        """When the cited documents were last checked (the oldest date, said once)."""
        dates = sorted(c.checked_on for c in self.citations if c.checked_on)
        return dates[0] if dates else ""

    @property
    def sources_heading(self) -> str:
        """``Sources (checked on DATE)``: the date once for every source."""
        checked = f" ({self.checked_label} {self.checked_on})" if self.checked_on else ""
        return f"{self.sources_label}{checked}"

    @property
    def text(self) -> str:
        """The whole reply as plain text, citation markers included."""
        parts = [p for p in (self.notice, self.body) if p]
        if self.citations:
            parts.append(f"{self.sources_heading}:\n" + "\n".join(self.citation_lines()))
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``python -m bot ask --json``."""
        return {
            "question": self.question,
            "language": self.language,
            "kind": self.kind,
            "text": self.text,
            "citations": [c.to_json() for c in self.citations],
            "latency_ms": round(self.latency_ms, 1),
            **self.extra,
        }

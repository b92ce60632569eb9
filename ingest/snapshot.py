"""What the bot needs of one index generation, computed once at ingest and stored beside it.

Per language: every citable section (the record a citation needs, with its own first source), the
vectors of its passages and question entries (one matrix each, each row owned by a section), and
the fitted BM25 arrays (:class:`ingest.lexical.LexicalIndex`). Ingest writes it with the
generation, before the pointer moves; the bot loads it without touching a tokenizer. A generation
without the file (built before it existed, or by another machine) is computed from its chunks by
:func:`build_snapshot`, the same function ingest uses, so both paths give the same snapshot.

The file is one uncompressed NumPy ``.npz`` (arrays, and the records as JSON bytes), read with
``allow_pickle=False``: loading it never runs code from the data directory.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ingest.lexical import LexicalIndex, tokenize
from ingest.record import ChunkMeta
from ingest.store import StoredChunk

log = logging.getLogger(__name__)

#: Bumped when the stored layout changes; an older file is recomputed, never misread.
FORMAT = 1
SUFFIX = ".snapshot.npz"


class SnapshotError(Exception):
    """A stored snapshot cannot be used (damaged, another format, another generation)."""


@dataclass(frozen=True)
class SectionRecord:
    """One citable section with the metadata a citation needs."""

    key: str  # "lang/doc_id#section_index"
    lang: str
    doc_id: str
    index: int
    title: str
    heading: str
    text: str
    url: str  # the section's own first source
    source: str
    checked_on: str
    summary: str
    urgent: bool
    chunk_ids: tuple[str, ...]
    source_title: str = ""
    awaiting_native_review: bool = False
    jurisdiction: str = (
        ""  # the document's: Chicago | Cook County | Illinois | United States | General
    )


@dataclass(frozen=True)
class LanguagePart:
    """One language of a generation: sections in a stable order, their vectors and BM25."""

    records: tuple[SectionRecord, ...]  # by (doc_id, section index)
    passages: np.ndarray | None  # (n, dim) float32, L2-normalised; None when vectors are missing
    passage_owner: np.ndarray  # (n,) int64: position in ``records``
    questions: np.ndarray | None
    question_owner: np.ndarray
    lexical: LexicalIndex


@dataclass(frozen=True)
class Snapshot:
    """Everything the bot keeps in memory of one index generation."""

    collection: str
    languages: dict[str, LanguagePart]


def build_snapshot(collection: str, chunks: Iterable[StoredChunk]) -> Snapshot:
    """Group a generation's chunks into sections, matrices and BM25 (the one place this is done)."""
    grouped: dict[str, list[StoredChunk]] = {}
    asked: dict[str, list[StoredChunk]] = {}
    metas: dict[str, ChunkMeta] = {}
    for chunk in chunks:
        m = metas[chunk.id] = ChunkMeta.from_chroma(chunk.metadata)
        (asked if m.is_question else grouped).setdefault(m.section_key, []).append(chunk)
    sections: list[SectionRecord] = []
    for key, parts in grouped.items():
        parts.sort(key=lambda c: metas[c.id].chunk_index)
        m = metas[parts[0].id]
        first = m.first_source
        sections.append(
            SectionRecord(
                key=key,
                lang=m.lang,
                doc_id=m.doc_id,
                index=m.section_index,
                title=m.title,
                heading=m.section,
                text=join_chunks([p.text for p in parts]),
                url=first.url if first else "",
                source=m.path,
                checked_on=m.last_verified,
                summary=m.summary,
                urgent=m.urgent,
                chunk_ids=tuple(p.id for p in parts),
                source_title=first.title if first else "",
                awaiting_native_review=m.awaiting_native_review,
                jurisdiction=m.jurisdiction,
            )
        )
    by_lang: dict[str, list[SectionRecord]] = {}
    for record in sorted(sections, key=lambda r: (r.lang, r.doc_id, r.index)):
        by_lang.setdefault(record.lang, []).append(record)
    languages: dict[str, LanguagePart] = {}
    for lang, records in by_lang.items():
        passages = [(i, c) for i, r in enumerate(records) for c in grouped[r.key]]
        questions = [(i, c) for i, r in enumerate(records) for c in asked.get(r.key, [])]
        complete = all(c.vector is not None for _, c in passages + questions)
        p_matrix, p_owner = _matrix(passages, complete)
        q_matrix, q_owner = _matrix(questions, complete)
        lexical = LexicalIndex.fit(
            [
                tokenize(
                    "\n".join(
                        [r.heading, r.heading, *(c.text for c in asked.get(r.key, [])), r.text]
                    )
                )
                for r in records
            ]
        )
        languages[lang] = LanguagePart(
            tuple(records), p_matrix, p_owner, q_matrix, q_owner, lexical
        )
    return Snapshot(collection, languages)


def _matrix(rows: list[tuple[int, StoredChunk]], complete: bool) -> tuple[np.ndarray | None, Any]:
    owner = np.asarray([i for i, _ in rows], dtype=np.int64)
    if not complete:
        return None, owner
    if not rows:
        return np.zeros((0, 1), dtype=np.float32), owner
    return np.asarray([c.vector for _, c in rows], dtype=np.float32), owner


def join_chunks(texts: list[str]) -> str:
    """Rejoin a section's chunks, dropping the overlap the splitter repeated."""
    out = texts[0]
    for text in texts[1:]:
        overlap = 0
        for size in range(min(len(out), len(text)), 0, -1):
            if out.endswith(text[:size]):
                overlap = size
                break
        out = out + ("" if overlap else "\n") + text[overlap:]
    return out


# -- storage ------------------------------------------------------------------------------------


def snapshot_path(folder: Path, collection: str) -> Path:
    """Where the snapshot of ``collection`` is kept in ``folder``."""
    return folder / f"{collection}{SUFFIX}"


_RECORD_FIELDS = tuple(f.name for f in fields(SectionRecord))
_LEXICAL_ARRAYS = ("idf", "postings_start", "postings_doc", "postings_tf", "doc_len")


def save(snapshot: Snapshot, folder: Path) -> Path:
    """Write the snapshot atomically (a temporary file, then a rename); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    header: dict[str, Any] = {"format": FORMAT, "collection": snapshot.collection, "languages": {}}
    for n, (lang, part) in enumerate(sorted(snapshot.languages.items())):
        p = f"l{n}_"
        header["languages"][lang] = {
            "prefix": p,
            "vectors": part.passages is not None and part.questions is not None,
            "records": [[getattr(r, f) for f in _RECORD_FIELDS] for r in part.records],
            "terms": list(part.lexical.terms),
            "avgdl": part.lexical.avgdl,
            "k1": part.lexical.k1,
            "b": part.lexical.b,
        }
        arrays[p + "passage_owner"] = part.passage_owner
        arrays[p + "question_owner"] = part.question_owner
        if part.passages is not None and part.questions is not None:
            arrays[p + "passages"] = part.passages
            arrays[p + "questions"] = part.questions
        for name in _LEXICAL_ARRAYS:
            arrays[p + name] = getattr(part.lexical, name)
    arrays["header"] = np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), np.uint8)
    path = snapshot_path(folder, snapshot.collection)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    tmp.replace(path)
    return path


def load(folder: Path, collection: str) -> Snapshot | None:
    """The stored snapshot of ``collection``; ``None`` when there is none.

    Raises :class:`SnapshotError` when a file is there but cannot be used.
    """
    path = snapshot_path(folder, collection)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            if header.get("format") != FORMAT or header.get("collection") != collection:
                raise SnapshotError(f"{path.name} is of another format or generation")
            languages = {}
            for lang, meta in header["languages"].items():
                p = meta["prefix"]
                records = tuple(
                    SectionRecord(**dict(zip(_RECORD_FIELDS, _record_values(row), strict=True)))
                    for row in meta["records"]
                )
                lexical = LexicalIndex(
                    terms=tuple(meta["terms"]),
                    idf=data[p + "idf"],
                    postings_start=data[p + "postings_start"],
                    postings_doc=data[p + "postings_doc"],
                    postings_tf=data[p + "postings_tf"],
                    doc_len=data[p + "doc_len"],
                    avgdl=float(meta["avgdl"]),
                    k1=float(meta["k1"]),
                    b=float(meta["b"]),
                )
                has_vectors = bool(meta["vectors"])
                languages[lang] = LanguagePart(
                    records,
                    data[p + "passages"] if has_vectors else None,
                    data[p + "passage_owner"],
                    data[p + "questions"] if has_vectors else None,
                    data[p + "question_owner"],
                    lexical,
                )
    except SnapshotError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise SnapshotError(f"{path.name} cannot be read: {type(err).__name__}") from err
    return Snapshot(collection, languages)


def _record_values(row: list[Any]) -> list[Any]:
    values = list(row)
    values[_RECORD_FIELDS.index("chunk_ids")] = tuple(values[_RECORD_FIELDS.index("chunk_ids")])
    return values


def remove_others(folder: Path, keep: Iterable[str]) -> list[str]:
    """Delete the snapshots of generations other than ``keep`` (they were dropped from the index)."""
    if not folder.is_dir():
        return []
    wanted = {snapshot_path(folder, k).name for k in keep if k}
    removed = []
    for entry in folder.iterdir():
        if entry.name.endswith(SUFFIX) and entry.name not in wanted:
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed

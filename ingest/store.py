"""The only module that knows Chroma: the active index, its read API, and the sync that replaces it.

Each build writes a complete new collection (reusing the stored vectors of unchanged text) and then
flips a pointer kept in the ``<prefix>-meta`` collection's metadata. Readers always follow the pointer,
so a failed, interrupted or killed build leaves the last complete index in place. The previous
generation is kept one build longer so a reader that still holds it can finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ingest.chunking import PASSAGE, embedding_text, is_question
from ingest.lock import IngestBusy
from ingest.record import ChunkMeta
from ingest.schema import Chunk
from ingest.settings import IndexSettings

log = logging.getLogger(__name__)

_BATCH = 256
#: How long an ingest lease in a Chroma server lasts without renewal; a build renews it as it goes,
#: so only a holder that died leaves one behind, and it expires after this long.
LEASE_SECONDS = 300.0
#: A build renews its lease when this much of it has passed.
LEASE_RENEW_AFTER = 60.0
#: chromadb's HTTP client has no timeout (a frozen server would hold a call forever): the server is
#: probed first with a short one, and the client's own session gets this one.
HTTP_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0


class IndexError_(Exception):
    """Base class of index problems that have a clear message for a person."""


class IndexUnavailable(IndexError_):
    """Chroma cannot be reached or opened (server down, corrupt directory)."""


class IndexMissing(IndexError_):
    """No complete index has been built yet."""


class IndexModelMismatch(IndexError_):
    """The index was built with another embedding model than the one configured."""


@dataclass(frozen=True)
class IndexInfo:
    """What the pointer records about the active index."""

    collection: str
    model: str
    dimension: int
    built_at: str
    documents: int
    chunks: int
    previous: str = ""

    def to_metadata(self) -> dict[str, str | int]:
        """Flatten for Chroma collection metadata."""
        return {
            "collection": self.collection,
            "model": self.model,
            "dimension": self.dimension,
            "built_at": self.built_at,
            "documents": self.documents,
            "chunks": self.chunks,
            "previous": self.previous,
        }

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> IndexInfo | None:
        """Read back the pointer; ``None`` when no build has completed."""
        if not data or not data.get("collection"):
            return None
        return cls(
            collection=str(data["collection"]),
            model=str(data["model"]),
            dimension=int(data["dimension"]),
            built_at=str(data["built_at"]),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            previous=str(data.get("previous", "")),
        )


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from the index."""

    id: str
    text: str
    metadata: dict[str, Any]
    vector: Any = None  # the stored embedding (a NumPy array), when asked for


@dataclass(frozen=True)
class Hit:
    """A dense-retrieval hit: the chunk and its cosine similarity."""

    chunk: StoredChunk
    score: float


#: Metadata keys that say nothing about a document's content (bookkeeping of the index itself).
_BOOKKEEPING = frozenset({"hash", "embed_hash"})


@dataclass(frozen=True)
class DocumentChange:
    """What a build changes in one document, and why."""

    key: str  # lang/id
    status: str  # "added", "updated" or "removed"
    reason: str  # e.g. "text of 'Who can help?'", "metadata: last_verified", "path only"
    to_embed: int = 0  # index entries that need a new vector

    def describe(self) -> str:
        """One line for the build report."""
        embed = f"{self.to_embed} to embed" if self.to_embed else "nothing to embed"
        reason = f"{self.reason}; " if self.reason else ""
        return f"{self.key}: {self.status} ({reason}{embed})"


@dataclass
class SyncPlan:
    """What a build would change, per document and per chunk."""

    added_docs: list[str] = field(default_factory=list)
    updated_docs: list[str] = field(default_factory=list)
    unchanged_docs: list[str] = field(default_factory=list)
    removed_docs: list[str] = field(default_factory=list)
    to_embed: list[Chunk] = field(default_factory=list)
    reused: dict[str, str] = field(default_factory=dict)  # new chunk id -> old chunk id
    chunks_added: int = 0
    chunks_updated: int = 0
    chunks_unchanged: int = 0
    chunks_removed: int = 0
    full_rebuild: bool = False
    reason: str = ""
    changes: list[DocumentChange] = field(default_factory=list)  # changed documents, in order

    @property
    def has_changes(self) -> bool:
        """True when the index must be rewritten."""
        return bool(
            self.full_rebuild
            or self.added_docs
            or self.updated_docs
            or self.removed_docs
            or self.chunks_added
            or self.chunks_updated
            or self.chunks_removed
        )


def embed_hash(chunk: Chunk | StoredChunk, model: str) -> str:
    """Identity of a vector: same text, kind and model give the same embedding."""
    kind = chunk.metadata.get("kind", PASSAGE)
    text = embedding_text(chunk.text, str(chunk.metadata["section"]), kind)
    return hashlib.sha256(f"{model}\n{kind}\n{text}".encode()).hexdigest()[:32]


def _why_changed(
    chunks: Sequence[Chunk],
    old: dict[str, dict[str, Any]],
    old_ids: set[str],
    embed_ids: set[str],
) -> str:
    """Why a document's entries differ from the index: its text, its metadata, or its path only."""
    reasons = []
    new_text = [str(c.metadata["section"]) for c in chunks if c.id in embed_ids]
    if new_text:
        sections = ", ".join(repr(h) for h in dict.fromkeys(new_text))
        reasons.append(f"text of {sections}")
    ids = {c.id for c in chunks}
    if ids - old_ids or old_ids - ids:
        reasons.append(f"entries {len(old_ids)} -> {len(ids)}")
    keys: set[str] = set()
    for chunk in chunks:
        before = old.get(chunk.id)
        if before is None:
            continue
        keys |= {
            k
            for k in set(chunk.metadata) | (set(before) - _BOOKKEEPING)
            if k not in _BOOKKEEPING and before.get(k) != chunk.metadata.get(k)
        }
    if keys == {"path"} and not reasons:
        return "path only"
    if not new_text:
        keys.discard("section")  # a heading change shows as text above
    if keys:
        reasons.append("metadata: " + ", ".join(sorted(keys)))
    return "; ".join(reasons)


class IndexStore:
    """A Chroma client plus the naming scheme of this project's collections."""

    def __init__(self, client: Any, prefix: str, chroma_dir: Path | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.meta_name = f"{prefix}-meta"
        self.lock_name = f"{prefix}-lock"
        #: the embedded store's directory (None for a server, which owns its files)
        self.chroma_dir = chroma_dir

    @classmethod
    def connect(cls, settings: IndexSettings) -> IndexStore:
        """Open the embedded store, or the server at ``KYR_CHROMA_URL``."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.chroma_url:
                from urllib.parse import urlparse

                url = urlparse(settings.chroma_url)
                _probe(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                _set_http_timeout(client)
                client.heartbeat()
            else:
                settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(
                    path=str(settings.chroma_dir), settings=chroma_settings
                )
        except Exception as err:  # chromadb raises many unrelated types; translate at the boundary
            where = settings.chroma_url or str(settings.chroma_dir)
            raise IndexUnavailable(
                f"cannot open the Chroma index at {where}: {_short(err)}"
            ) from err
        return cls(
            client, settings.collection_prefix, None if settings.chroma_url else settings.chroma_dir
        )

    # -- the pointer ---------------------------------------------------------------------------

    def _meta_collection(self) -> Any:
        return self._call(
            lambda: self.client.get_or_create_collection(
                self.meta_name, embedding_function=None, metadata={"kind": "pointer"}
            )
        )

    def active(self) -> IndexInfo | None:
        """The pointer to the last complete index, if any."""
        meta = self._meta_collection()
        return IndexInfo.from_metadata(dict(meta.metadata or {}))

    def require_active(self, model: str | None = None) -> IndexInfo:
        """The active index, checked against the configured model."""
        info = self.active()
        if info is None:
            raise IndexMissing("no index has been built yet: run `make ingest`")
        if model is not None and info.model != model:
            raise IndexModelMismatch(
                f"the index was built with the embedding model {info.model!r} but "
                f"{model!r} is configured: re-ingest with `python -m ingest build --rebuild`"
            )
        return info

    def _set_active(self, info: IndexInfo) -> None:
        meta = self._meta_collection()
        self._call(lambda: meta.modify(metadata={"kind": "pointer", **info.to_metadata()}))

    # -- reading -------------------------------------------------------------------------------

    def _collection(self, name: str) -> Any:
        return self._call(lambda: self.client.get_collection(name, embedding_function=None))

    def chunks(
        self, info: IndexInfo, lang: str | None = None, vectors: bool = False
    ) -> list[StoredChunk]:
        """Every chunk of the active index (optionally of one language, with its vector)."""
        collection = self._collection(info.collection)
        where = {"lang": lang} if lang else None
        include = ["documents", "metadatas", *(["embeddings"] if vectors else [])]
        result = self._call(lambda: collection.get(where=where, include=include))
        embeddings = result["embeddings"] if vectors else [None] * len(result["ids"])
        return [
            StoredChunk(id=i, text=d or "", metadata=dict(m or {}), vector=v)
            for i, d, m, v in zip(
                result["ids"], result["documents"], result["metadatas"], embeddings, strict=True
            )
        ]

    def search(
        self, info: IndexInfo, embedding: Sequence[float], lang: str | None, k: int
    ) -> list[Hit]:
        """Nearest chunks to a query vector, best first, with cosine similarity."""
        collection = self._collection(info.collection)
        where = {"lang": lang} if lang else None
        result = self._call(
            lambda: collection.query(
                query_embeddings=[list(embedding)],
                n_results=max(1, k),
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        )
        hits = []
        for i, d, m, dist in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        ):
            hits.append(Hit(StoredChunk(i, d or "", dict(m or {})), 1.0 - float(dist)))
        return hits

    # -- building ------------------------------------------------------------------------------

    def plan(self, chunks: Sequence[Chunk], model: str, rebuild: bool = False) -> SyncPlan:
        """Compare the wanted chunks with the active index."""
        plan = SyncPlan()
        info = self.active()
        old: dict[str, dict[str, Any]] = {}
        if info is not None and not rebuild and info.model == model:
            try:
                old = {c.id: c.metadata for c in self.chunks(info)}
            except IndexUnavailable:
                plan.reason = "the active collection could not be read; rebuilding"
                old = {}
                plan.full_rebuild = True
        elif info is not None and info.model != model:
            plan.full_rebuild = True
            plan.reason = f"embedding model changed ({info.model} -> {model})"
        elif rebuild:
            plan.full_rebuild = True
            plan.reason = "--rebuild"
        else:
            plan.full_rebuild = True
            plan.reason = "no index yet"

        old_by_embed: dict[str, str] = {}
        for cid, meta in old.items():
            old_by_embed.setdefault(str(meta.get("embed_hash", "")), cid)
        old_docs: dict[str, set[str]] = {}
        for cid, meta in old.items():
            old_docs.setdefault(f"{meta.get('lang')}/{meta.get('doc_id')}", set()).add(cid)

        new_docs: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            new_docs.setdefault(chunk.doc_key, []).append(chunk)
            ehash = embed_hash(chunk, model)
            previous = old.get(chunk.id)
            if previous is None:
                plan.chunks_added += 1
            elif previous.get("hash") == chunk.metadata["hash"]:
                plan.chunks_unchanged += 1
            else:
                plan.chunks_updated += 1
            if ehash in old_by_embed:
                plan.reused[chunk.id] = old_by_embed[ehash]
            else:
                plan.to_embed.append(chunk)

        embed_ids = {c.id for c in plan.to_embed}
        for key, doc_chunks in new_docs.items():
            to_embed = sum(1 for c in doc_chunks if c.id in embed_ids)
            if key not in old_docs:
                plan.added_docs.append(key)
                plan.changes.append(DocumentChange(key, "added", "new document", to_embed))
            elif {c.id for c in doc_chunks} == old_docs[key] and all(
                old[c.id].get("hash") == c.metadata["hash"] for c in doc_chunks
            ):
                plan.unchanged_docs.append(key)
                if to_embed:  # same content, but no vector to reuse (e.g. another model)
                    plan.changes.append(DocumentChange(key, "re-embedded", plan.reason, to_embed))
            else:
                plan.updated_docs.append(key)
                reason = _why_changed(doc_chunks, old, old_docs[key], embed_ids)
                plan.changes.append(DocumentChange(key, "updated", reason, to_embed))
        plan.removed_docs = sorted(set(old_docs) - set(new_docs))
        plan.changes += [DocumentChange(k, "removed", "") for k in plan.removed_docs]
        if plan.full_rebuild and info is not None:
            # every document is written again; say why instead of calling them all new
            plan.changes = [
                DocumentChange(c.key, "re-embedded", plan.reason, c.to_embed) for c in plan.changes
            ]
        wanted = {c.id for c in chunks}
        plan.chunks_removed = sum(1 for cid in old if cid not in wanted)
        return plan

    def apply(
        self,
        plan: SyncPlan,
        chunks: Sequence[Chunk],
        embed: Callable[[list[str]], list[list[float]]],
        model: str,
        progress: Callable[[int, int], None] | None = None,
        embed_questions: Callable[[list[str]], list[list[float]]] | None = None,
        guard: Callable[[], None] | None = None,
        prepare: Callable[[IndexInfo], None] | None = None,
    ) -> IndexInfo:
        """Write a complete new collection, flip the pointer, and drop stale generations.

        ``embed`` embeds passages; ``embed_questions`` embeds question entries (defaults to
        ``embed`` for models without a separate question side). ``guard`` runs between batches
        and right before the pointer moves (it renews a lease and raises if the lease was lost).
        ``prepare`` gets the new generation once it is written and before the pointer moves (it
        stores what the bot precomputes of a generation).
        """
        embed_questions = embed_questions or embed
        previous = self.active()
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        name = f"{self.prefix}-{stamp}-{secrets.token_hex(3)}"
        vectors: dict[str, list[float]] = {}
        if plan.reused and previous is not None:
            old_ids = sorted(set(plan.reused.values()))
            old_collection = self._collection(previous.collection)
            for batch in _batches(old_ids, _BATCH):
                got = self._call(
                    partial(old_collection.get, ids=list(batch), include=["embeddings"])
                )
                for cid, vec in zip(got["ids"], got["embeddings"], strict=True):
                    vectors[cid] = [float(x) for x in vec]
        to_embed = {c.id for c in plan.to_embed}
        # a vector we expected to reuse but could not read is embedded again
        missing = [c for c in chunks if c.id not in to_embed and plan.reused[c.id] not in vectors]
        todo = [*plan.to_embed, *missing]

        dimension = 0
        new_vectors: dict[str, list[float]] = {}
        done = 0
        if progress is not None:
            progress(0, len(todo))
        for batch in _batches(todo, 64):
            for kind_is_question in (False, True):
                part = [c for c in batch if is_question(c.metadata) == kind_is_question]
                if not part:
                    continue
                texts = [
                    embedding_text(c.text, str(c.metadata["section"]), c.metadata.get("kind"))
                    for c in part
                ]
                vecs = embed_questions(texts) if kind_is_question else embed(texts)
                for chunk, vec in zip(part, vecs, strict=True):
                    new_vectors[chunk.id] = vec
            done += len(batch)
            if progress is not None:
                progress(done, len(todo))
            if guard is not None:
                guard()

        collection = self._call(
            lambda: self.client.create_collection(
                name, embedding_function=None, metadata={"hnsw:space": "cosine", "model": model}
            )
        )
        for batch in _batches(list(chunks), _BATCH):
            embeddings = []
            for c in batch:
                vec = new_vectors.get(c.id) or vectors[plan.reused[c.id]]
                embeddings.append(vec)
                dimension = len(vec)
            metadatas = [{**c.metadata, "embed_hash": embed_hash(c, model)} for c in batch]
            self._call(
                partial(
                    collection.add,
                    ids=[c.id for c in batch],
                    documents=[c.text for c in batch],
                    embeddings=embeddings,
                    metadatas=metadatas,
                )
            )
        info = IndexInfo(
            collection=name,
            model=model,
            dimension=dimension,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            documents=len({c.doc_key for c in chunks}),
            chunks=len(chunks),
            previous=previous.collection if previous else "",
        )
        if prepare is not None:
            prepare(info)
        if guard is not None:
            guard()
        self._set_active(info)
        self.drop_stale(keep={info.collection, info.previous})
        return info

    def drop_stale(self, keep: Iterable[str]) -> list[str]:
        """Delete this project's collections other than ``keep`` (leftovers of old or killed builds)."""
        keep_set = {k for k in keep if k} | {self.meta_name, self.lock_name}
        dropped = []
        for name in self.collection_names():
            if name.startswith(self.prefix + "-") and name not in keep_set:
                self._call(partial(self.client.delete_collection, name))
                dropped.append(name)
        if dropped:
            self.remove_orphaned_segments()
        return dropped

    def remove_orphaned_segments(self) -> list[str]:
        """Delete the vector folders that dropped collections leave in the embedded store.

        chromadb 1.x deletes a collection's rows but keeps its HNSW folder (one per build, audit
        LOW-5) and has no Python API to remove it, so we read which segments still exist from its
        SQLite catalogue (read-only) and remove only folders named like a segment id that is no
        longer listed. Called under the ingest lock, after the pointer moved.
        """
        if self.chroma_dir is None or not (self.chroma_dir / "chroma.sqlite3").is_file():
            return []
        uri = f"file:{(self.chroma_dir / 'chroma.sqlite3').as_posix()}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True, timeout=10) as db:
                live = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
        except sqlite3.Error as err:
            log.warning("could not list the index's segments (%s); none removed", err)
            return []
        removed = []
        for entry in self.chroma_dir.iterdir():
            try:
                uuid.UUID(entry.name)
            except ValueError:
                continue
            if entry.is_dir() and not entry.is_symlink() and entry.name not in live:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed

    # -- the ingest lease (server mode) -----------------------------------------------------------

    @contextmanager
    def ingest_lease(self, owner: str | None = None) -> Iterator[Lease]:
        """Hold the ingest lease kept in the store itself, or raise :class:`IngestBusy` at once.

        Every host that ingests into one Chroma server sees the same lease, whatever its data
        directory (a file lock only covers one machine, audit LOW-4). Creating a collection is
        atomic on the server, so the ``<prefix>-lock`` collection is the lease; its metadata names
        the holder and when the lease ends. A lease that ended, or whose holder was a process on
        this host that no longer runs, is taken over.
        """
        lease = Lease(self, owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
        lease.acquire()
        try:
            yield lease
        finally:
            lease.release()

    def collection_names(self) -> list[str]:
        """Names of all collections in the store."""
        found = self._call(self.client.list_collections)
        return [c if isinstance(c, str) else c.name for c in found]

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except IndexError_:
            raise
        except Exception as err:  # translate chromadb/httpx failures for the callers
            hint = ""
            if self.chroma_dir is not None:
                # a damaged embedded store cannot be repaired in place (audit LOW-6)
                hint = (
                    f" (if its files are damaged, move {self.chroma_dir} aside and run "
                    "`python -m ingest build` to rebuild it)"
                )
            raise IndexUnavailable(f"the Chroma index failed: {_short(err)}{hint}") from err


class Lease:
    """An ingest lease held in the Chroma store (see :meth:`IndexStore.ingest_lease`)."""

    def __init__(self, store: IndexStore, owner: str, seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.owner = owner
        self.seconds = seconds
        self.renewed = 0.0

    def _metadata(self) -> dict[str, str | float]:
        return {"kind": "lock", "owner": self.owner, "expires": time.time() + self.seconds}

    def _create(self) -> bool:
        try:
            self.store.client.create_collection(
                self.store.lock_name, embedding_function=None, metadata=self._metadata()
            )
        except Exception:  # already exists (the error type differs between client kinds)
            return False
        self.renewed = time.monotonic()
        return True

    def _holder(self) -> dict[str, Any] | None:
        try:
            collection = self.store.client.get_collection(
                self.store.lock_name, embedding_function=None
            )
        except Exception as err:
            if "does not exist" in str(err) or type(err).__name__ == "NotFoundError":
                return None
            raise IndexUnavailable(f"the Chroma index failed: {_short(err)}") from err
        return dict(collection.metadata or {})

    def acquire(self) -> None:
        """Take the lease, or raise :class:`IngestBusy` naming who holds it and until when."""
        for _ in range(3):
            if self._create():
                return
            holder = self._holder()
            if holder is None:
                continue  # released between our two calls: try again
            if not _lease_is_dead(holder):
                until = datetime.fromtimestamp(float(holder.get("expires", 0)), UTC)
                raise IngestBusy(
                    "another ingest is already running against this Chroma server (lease held "
                    f"by {holder.get('owner', '?')} until {until:%H:%M:%S} UTC unless renewed); "
                    "wait for it to finish and try again"
                )
            log.warning("taking over a stale ingest lease from %s", holder.get("owner", "?"))
            self.store._call(partial(self.store.client.delete_collection, self.store.lock_name))
        raise IngestBusy("another ingest is already running (the lease kept changing hands)")

    def check(self) -> None:
        """Renew the lease when due; raise :class:`IngestBusy` if another ingest took it over."""
        holder = self._holder()
        if holder is None or holder.get("owner") != self.owner:
            raise IngestBusy(
                "this ingest's lease was taken over by another ingest; nothing changed"
            )
        if time.monotonic() - self.renewed >= LEASE_RENEW_AFTER:
            collection = self.store._call(
                partial(self.store.client.get_collection, self.store.lock_name)
            )
            self.store._call(partial(collection.modify, metadata=self._metadata()))
            self.renewed = time.monotonic()

    def release(self) -> None:
        """Give the lease back (only if it is still ours)."""
        try:
            holder = self._holder()
            if holder is not None and holder.get("owner") == self.owner:
                self.store.client.delete_collection(self.store.lock_name)
        except Exception as err:  # the lease then expires on its own
            log.warning("could not release the ingest lease: %s", _short(err))


def _lease_is_dead(holder: dict[str, Any]) -> bool:
    """True when a lease ended, or names a process on this host that no longer runs."""
    try:
        if float(holder.get("expires", 0)) < time.time():
            return True
    except (TypeError, ValueError):
        return True
    host, _, rest = str(holder.get("owner", "")).partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


def stats(
    store: IndexStore, today: date | None = None, stale_after_days: int = 180
) -> dict[str, Any]:
    """What a maintainer can act on: documents and chunks per language, coverage of each language
    against English, stale documents, documents no attorney has reviewed, and translations
    awaiting native review. Counts and document keys only."""
    info = store.require_active()
    today = today or date.today()
    per_lang: dict[str, dict[str, Any]] = {}
    documents: dict[str, ChunkMeta] = {}
    for chunk in store.chunks(info):
        record = ChunkMeta.from_chroma(chunk.metadata)
        entry = per_lang.setdefault(record.lang, {"documents": set(), "chunks": 0})
        entry["documents"].add(record.doc_id)
        entry["chunks"] += 1
        documents.setdefault(record.doc_key, record)
    english = per_lang.get("en", {}).get("documents", set())
    languages = {
        lang: {
            "documents": len(v["documents"]),
            "chunks": v["chunks"],
            "coverage_of_english": (
                round(len(v["documents"] & english) / len(english), 3) if english else None
            ),
        }
        for lang, v in sorted(per_lang.items())
    }
    stale: list[dict[str, Any]] = []
    for key, record in sorted(documents.items()):
        try:
            checked = date.fromisoformat(record.last_verified)
        except ValueError:
            stale.append({"document": key, "last_verified": record.last_verified, "days": None})
            continue
        days = (today - checked).days
        if days > stale_after_days:
            stale.append({"document": key, "last_verified": record.last_verified, "days": days})
    return {
        "model": info.model,
        "dimension": info.dimension,
        "built_at": info.built_at,
        "collection": info.collection,
        "languages": languages,
        "documents": info.documents,
        "chunks": info.chunks,
        # English and Spanish hold every document: these have no Spanish twin in the index
        "missing_in_spanish": sorted(english - per_lang.get("es", {}).get("documents", set())),
        "stale": stale,
        "stale_after_days": stale_after_days,
        "unreviewed_by_attorney": sum(1 for r in documents.values() if not r.reviewer),
        "awaiting_native_review": sorted(
            k for k, r in documents.items() if r.awaiting_native_review
        ),
    }


def dumps(data: Any) -> str:
    """JSON for CLI output."""
    return json.dumps(data, ensure_ascii=False, indent=2)


__all__ = [
    "Hit",
    "IndexError_",
    "IndexInfo",
    "IndexMissing",
    "IndexModelMismatch",
    "IndexStore",
    "IndexUnavailable",
    "StoredChunk",
    "SyncPlan",
    "stats",
]


def _probe(url: str) -> None:
    """Fail in seconds when the server at ``url`` does not answer (frozen, black-holed)."""
    import httpx

    timeout = httpx.Timeout(PROBE_TIMEOUT_S)
    httpx.get(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=timeout).raise_for_status()


def _set_http_timeout(client: Any) -> None:
    """Give chromadb's HTTP session a timeout (it is created with none)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(HTTP_TIMEOUT_S, connect=PROBE_TIMEOUT_S)
    else:
        log.warning("could not set a timeout on the Chroma HTTP client")

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
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ingest.chunking import PASSAGE, embedding_text, is_question
from ingest.schema import Chunk
from ingest.settings import IndexSettings

log = logging.getLogger(__name__)

_BATCH = 256
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


class IndexStore:
    """A Chroma client plus the naming scheme of this project's collections."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.meta_name = f"{prefix}-meta"

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
        return cls(client, settings.collection_prefix)

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

        for key, doc_chunks in new_docs.items():
            if key not in old_docs:
                plan.added_docs.append(key)
            elif {c.id for c in doc_chunks} == old_docs[key] and all(
                old[c.id].get("hash") == c.metadata["hash"] for c in doc_chunks
            ):
                plan.unchanged_docs.append(key)
            else:
                plan.updated_docs.append(key)
        plan.removed_docs = sorted(set(old_docs) - set(new_docs))
        wanted = {c.id for c in chunks}
        plan.chunks_removed = sum(1 for cid in old if cid not in wanted)
        return plan

    def apply(
        self,
        plan: SyncPlan,
        chunks: Sequence[Chunk],
        embed: Callable[[list[str]], list[list[float]]],
        model: str,
        progress: Callable[[int], None] | None = None,
        embed_questions: Callable[[list[str]], list[list[float]]] | None = None,
    ) -> IndexInfo:
        """Write a complete new collection, flip the pointer, and drop stale generations.

        ``embed`` embeds passages; ``embed_questions`` embeds question entries (defaults to
        ``embed`` for models without a separate question side).
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
            if progress is not None:
                progress(len(batch))

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
        self._set_active(info)
        self.drop_stale(keep={info.collection, info.previous})
        return info

    def drop_stale(self, keep: Iterable[str]) -> list[str]:
        """Delete this project's collections other than ``keep`` (leftovers of old or killed builds)."""
        keep_set = {k for k in keep if k} | {self.meta_name}
        dropped = []
        for name in self.collection_names():
            if name.startswith(self.prefix + "-") and name not in keep_set:
                self._call(partial(self.client.delete_collection, name))
                dropped.append(name)
        return dropped

    def collection_names(self) -> list[str]:
        """Names of all collections in the store."""
        found = self._call(self.client.list_collections)
        return [c if isinstance(c, str) else c.name for c in found]

    @staticmethod
    def _call(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except IndexError_:
            raise
        except Exception as err:  # translate chromadb/httpx failures for the callers
            raise IndexUnavailable(f"the Chroma index failed: {_short(err)}") from err


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


def stats(store: IndexStore) -> dict[str, Any]:
    """Documents and chunks per language, the model, and when the index was built."""
    info = store.require_active()
    per_lang: dict[str, dict[str, Any]] = {}
    for chunk in store.chunks(info):
        lang = str(chunk.metadata.get("lang"))
        entry = per_lang.setdefault(lang, {"documents": set(), "chunks": 0})
        entry["documents"].add(chunk.metadata.get("doc_id"))
        entry["chunks"] += 1
    languages = {
        lang: {"documents": len(v["documents"]), "chunks": v["chunks"]}
        for lang, v in sorted(per_lang.items())
    }
    return {
        "model": info.model,
        "dimension": info.dimension,
        "built_at": info.built_at,
        "collection": info.collection,
        "languages": languages,
        "documents": info.documents,
        "chunks": info.chunks,
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

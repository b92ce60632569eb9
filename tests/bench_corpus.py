"""The corpus at scale: load time, extra memory and answer latency of a much larger index.

``scaled_index()`` copies every entry of a built index (passages and question phrasings, with their
stored vectors, so nothing is embedded) ``copies`` times under new document ids into a new index,
and stores its snapshot as ingest does. ``measure()`` runs in a fresh process (so its memory is its
own): the time to load the index, the resident memory it added, and the answer latency over the
first ``KYR_BENCH_QUESTIONS`` (200) dev questions, asked twice, the second time measured, with
their vectors already computed (the answer without embedding time).
It is measured from the stored snapshot, with the snapshot removed (computed from the chunks at
load), and, when ``KYR_BENCH_BEFORE`` names a checkout of the code before snapshots (for example
``git worktree add /tmp/before <commit>``), with that code: today's figures side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

# only what the code before snapshots also has: ``measure`` runs against either (see below)
from bot import evaluate
from bot.engine import Engine
from bot.settings import BotSettings
from ingest.settings import PROJECT_ROOT
from ingest.store import IndexInfo, IndexStore

#: 7 copies of today's 3,203 entries: about 22,000, the size the issue measured at.
COPIES = 7


def scaled_index(source: BotSettings, data_dir: Path, copies: int = COPIES) -> IndexInfo:
    """An index in ``data_dir`` holding ``copies`` copies of the active index of ``source``."""
    from ingest import sync

    src = IndexStore.connect(source)
    info = src.require_active()
    chunks = src.chunks(info, vectors=True)
    settings = BotSettings(data_dir=data_dir)
    store = IndexStore.connect(settings)
    name = f"{settings.collection_prefix}-scaled-{copies}"
    collection = store.client.create_collection(
        name, embedding_function=None, metadata={"hnsw:space": "cosine", "model": info.model}
    )
    batch: list[tuple[str, str, dict[str, Any], list[float]]] = []

    def flush() -> None:
        if batch:
            ids, docs, metas, vecs = zip(*batch, strict=True)
            collection.add(
                ids=list(ids), documents=list(docs), metadatas=list(metas), embeddings=list(vecs)
            )
            batch.clear()

    for k in range(copies):
        for c in chunks:
            meta = {**c.metadata, "doc_id": f"{c.metadata['doc_id']}-copy{k}"}
            batch.append((f"{c.id}-copy{k}", c.text, meta, [float(x) for x in c.vector]))
            if len(batch) >= 1000:
                flush()
    flush()
    scaled = IndexInfo(
        collection=name,
        model=info.model,
        dimension=info.dimension,
        built_at=info.built_at,
        documents=info.documents * copies,
        chunks=len(chunks) * copies,
    )
    sync.write_snapshot(settings, store, scaled)
    store._set_active(scaled)
    return scaled


class Remembered(Embeddings):
    """The real model, remembering each question's vector: the second pass measures the answer
    without embedding time."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.model_name = str(getattr(inner, "model_name", ""))
        self.known: dict[str, list[float]] = {}

    def embed_query(self, text: str) -> list[float]:
        if text not in self.known:
            self.known[text] = self.inner.embed_query(text)
        return self.known[text]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(data_dir: Path) -> dict[str, Any]:
    """Load time, extra memory and answer latency of the index in ``data_dir`` (this process)."""
    settings = BotSettings(data_dir=data_dir, embed_batch=False, index_check_s=3600)
    engine = Engine(settings)
    engine.detector.warm_up()
    engine.embedder.embed_query("warm up")
    before = _rss_mb()
    started = time.perf_counter()
    corpus = engine.corpus()
    load_s = time.perf_counter() - started
    extra = _rss_mb() - before
    engine.urgency.warm_up()
    remembered = Remembered(engine.embedder)
    engine._embedder = remembered
    items = evaluate.load_items(evaluate.SPLITS["dev"])[
        : int(os.environ.get("KYR_BENCH_QUESTIONS", 200))
    ]
    for item in items:
        engine.respond(item.question, item.ui_lang)
    latencies = sorted(engine.respond(i.question, i.ui_lang).reply.latency_ms for i in items)
    return {
        "sections": len(corpus.sections),
        "entries": corpus.info.chunks,
        "load_s": round(load_s, 2),
        "extra_rss_mb": round(extra, 1),
        "answer_without_embedding_p50_ms": round(latencies[len(latencies) // 2], 1),
        "answer_without_embedding_p95_ms": round(latencies[int(0.95 * len(latencies))], 1),
        "questions": len(items),
    }


def _measure_in_child(data_dir: Path, code: Path | None = None) -> dict[str, Any]:
    """``measure`` in a fresh process, with this code or with the checkout at ``code``."""
    root = code or PROJECT_ROOT
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "measure", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root)},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_scaled_corpus(
    source: BotSettings, copies: int = COPIES, before: Path | None = None
) -> dict[str, Any]:
    """The scaled index loaded from its snapshot, computed at load without it, and (with
    ``before``, a checkout of the code before snapshots) loaded by that code."""
    from ingest import snapshot

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        started = time.perf_counter()
        info = scaled_index(source, data_dir, copies)
        build_s = time.perf_counter() - started
        report: dict[str, Any] = {"copies": copies, "copy_and_snapshot_s": round(build_s, 1)}
        report["from_snapshot"] = _measure_in_child(data_dir)
        path = snapshot.snapshot_path(BotSettings(data_dir=data_dir).snapshot_dir, info.collection)
        report["snapshot_file_mb"] = round(path.stat().st_size / 2**20, 1)
        path.unlink()
        report["without_snapshot"] = _measure_in_child(data_dir)
        if before is not None:
            report["code_before"] = _measure_in_child(data_dir, before)
    return report


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "measure":
        print(json.dumps(measure(Path(sys.argv[2]))))
    else:
        before = os.environ.get("KYR_BENCH_BEFORE")
        report = bench_scaled_corpus(BotSettings(), before=Path(before) if before else None)
        print(json.dumps(report, indent=2))

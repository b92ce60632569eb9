"""`make bench`: ingest throughput, raw index latency, engine quality by retriever, latency, cold
start, peak memory, the corpus at scale, and the Telegram burst and steady-rate runs (each with
question batching off, the code path before it, and on). Prints one JSON report; asserts nothing.

``KYR_BENCH_ONLY=corpus,telegram`` runs only those parts (ingest, engine, corpus, telegram);
``KYR_BENCH_BEFORE=<checkout>`` also measures the scaled corpus with the code in that checkout.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot import evaluate
from bot.engine import Engine
from bot.settings import BotSettings
from ingest import sync
from ingest.settings import PROJECT_ROOT, IndexSettings
from ingest.store import IndexStore
from tests.bench_corpus import bench_scaled_corpus
from tests.bench_telegram import run_load, run_steady

SYNTHETIC_DOCS = 500
SECTIONS_PER_DOC = 10


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
    }


def synthetic_corpus(root: Path) -> None:
    """500 documents x 10 sections = 5,000 chunks of plausible text."""
    body = (PROJECT_ROOT / "knowledge" / "en" / "welcoming-city.md").read_text("utf-8")
    words = [w for w in body.split("---", 2)[2].split() if w.isalnum()]
    for d in range(SYNTHETIC_DOCS):
        sections = []
        for s in range(SECTIONS_PER_DOC):
            start = (d * 37 + s * 101) % (len(words) - 80)
            sections.append(f"## Question {d}-{s}?\n\n{' '.join(words[start : start + 70])}\n")
        path = root / "en" / f"doc-{d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"---\nid: doc-{d}\nlang: en\ntitle: Synthetic {d}\njurisdiction: General\n"
            "sources:\n  - title: Example\n    url: https://example.org/\n"
            f"last_verified: 2026-11-25\n---\n\n" + "\n".join(sections),
            "utf-8",
        )


def bench_ingest(settings: IndexSettings) -> dict[str, Any]:
    """Throughput of a full build, and the no-change re-run including process start-up."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "knowledge"
        synthetic_corpus(corpus)
        bench_settings = IndexSettings(
            data_dir=Path(tmp) / "var", collection_prefix="bench", **_model(settings)
        )
        embedder = sync.default_embedder(bench_settings)
        embedder.embed_query("warm up")
        result = sync.build(bench_settings, corpus, embedder=embedder)
        assert result.info is not None
        chunks = result.info.chunks
        store = IndexStore.connect(bench_settings)
        queries = [f"question about police and status number {i}" for i in range(200)]
        latencies = []
        for q in queries:
            started = time.perf_counter()
            store.search(result.info, embedder.embed_query(q), "en", 5)
            latencies.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        rerun = subprocess.run(
            [sys.executable, "-m", "ingest", "build", str(corpus)],
            env={
                "KYR_DATA_DIR": str(bench_settings.data_dir),
                "KYR_COLLECTION_PREFIX": "bench",
                "PATH": "/usr/bin:/bin",
                "HF_HUB_OFFLINE": "1",
            },
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
        )
        rerun_s = time.perf_counter() - started
        return {
            "synthetic_chunks": chunks,
            "build_s": round(result.seconds, 1),
            "chunks_per_s": round(chunks / result.seconds, 1),
            "raw_query_latency": percentiles(latencies),
            "no_change_rerun_s_including_startup": round(rerun_s, 2),
            "no_change_rerun_ok": rerun.returncode == 0 and "0 to embed" in rerun.stdout,
        }


def _model(settings: IndexSettings) -> dict[str, Any]:
    return {
        "embedding_model": settings.embedding_model,
        "embedding_backend": settings.embedding_backend,
    }


def bench_engine(settings: BotSettings) -> dict[str, Any]:
    """Dev quality, warm latency over the dev questions, cold start of `ask`, peak memory of a batch."""
    engine = Engine(settings)
    engine.warm_up()
    items = evaluate.load_items(evaluate.SPLITS["dev"])
    table = evaluate.summarise(evaluate.run(engine, items, PROJECT_ROOT))
    retrieval: dict[str, Any] = {
        name: round(row["right"], 3) for name, row in table.items() if "right" in row
    }
    # warm: every dev question twice (the second pass is measured), one at a time, no history
    for item in items:
        engine.respond(item.question, item.ui_lang)
    latencies = [engine.respond(i.question, i.ui_lang).reply.latency_ms for i in items]

    env = {"KYR_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "ask", "Can Chicago police ask about my status?"],
        env=env,
        capture_output=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    cold_start = time.perf_counter() - started

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for i in items:
            fh.write(json.dumps({"id": i.id, "question": i.question}) + "\n")
    # a fresh parent whose only child is the batch, so the peak is the batch's own
    measure = (
        "import resource, subprocess, sys; "
        "subprocess.run([sys.executable, '-m', 'bot', 'ask', '--json', '--batch', sys.argv[1]], "
        "check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    peak_kb = int(
        subprocess.run(
            [sys.executable, "-c", measure, fh.name],
            env=env,
            capture_output=True,
            check=True,
            text=True,
            cwd=PROJECT_ROOT,
        ).stdout.strip()
    )
    return {
        "questions": len(items),
        "dev_right": retrieval,
        "warm_latency": percentiles(latencies),
        "cold_start_ask_s": round(cold_start, 2),
        "batch_peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    """Run every benchmark against the index in KYR_DATA_DIR (built by `make ingest`)."""
    settings = BotSettings()
    only = {p for p in os.environ.get("KYR_BENCH_ONLY", "").split(",") if p}
    before = os.environ.get("KYR_BENCH_BEFORE")
    parts = {
        "ingest": lambda: bench_ingest(settings),
        "engine": lambda: bench_engine(settings),
        "corpus": lambda: bench_scaled_corpus(settings, before=Path(before) if before else None),
        "telegram": lambda: {
            "burst_200x5": {
                "before_batching": run_load(200, 5, settings, batching=False),
                "batching": run_load(200, 5, settings, batching=True),
            },
            "steady_20_per_s_30_s": {
                "before_batching": run_steady(20, 30, settings, batching=False),
                "batching": run_steady(20, 30, settings, batching=True),
            },
        },
    }
    report = {}
    for name, run in parts.items():
        if not only or name in only:
            report[name] = run()
            # each part as it finishes (a full run takes a long time on a busy machine)
            print(json.dumps({name: report[name]}), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

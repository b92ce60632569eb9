"""One ingest at a time: a non-blocking file lock under the data directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class IngestBusy(Exception):
    """Another ingest holds the lock."""


@contextmanager
def ingest_lock(path: Path) -> Iterator[None]:
    """Hold the ingest lock, or raise :class:`IngestBusy` at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IngestBusy(
            "another ingest is already running (lock held on "
            f"{path}); wait for it to finish and try again"
        ) from None
    try:
        yield
    finally:
        lock.release()

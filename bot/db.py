"""The state database: a SQLAlchemy engine for SQLite or PostgreSQL, and its Alembic migrations.

SQLite (the default, one machine) is a file under ``data_dir`` created 0600 before SQLite opens it,
so its ``-wal`` and ``-shm`` files, which SQLite creates with the database file's mode, are 0600
too. PostgreSQL serves several processes or machines. Migrations are Alembic revisions in
``bot/migrations``, applied at start-up under a lock (a PostgreSQL advisory lock, or a file lock
for SQLite) so replicas starting together do not race.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from filelock import FileLock, Timeout
from sqlalchemy.engine import URL, Engine, make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The PostgreSQL advisory-lock id that serialises migrations (any constant; "KYRSTATE" in hex).
MIGRATION_LOCK = 0x4B59525354415445


class StateError(RuntimeError):
    """The state database is misconfigured or cannot be opened; the message says what to do."""


def database_url(url: str) -> URL:
    """``url`` with the driver this project installs (psycopg 3 for ``postgresql://``)."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as err:
        raise StateError(f"KYR_STATE_URL is not a database URL: {err}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StateError("KYR_STATE_URL must be sqlite:///path or postgresql://...")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL (``None`` for PostgreSQL or an in-memory SQLite)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def private_sqlite_file(path: Path) -> None:
    """Create ``path`` 0600 if missing, and make it and any journal files of it 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, 0o600)


def create_engine(url: str, timeout_s: float) -> Engine:
    """An engine for the state database, with each backend's settings for short, safe queries."""
    parsed = database_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        private_sqlite_file(path)
        engine = sa.create_engine(parsed, connect_args={"timeout": timeout_s})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten, not left in free pages, so /forget really forgets.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "sqlite":
        return sa.create_engine(parsed)
    millis = int(timeout_s * 1000)
    return sa.create_engine(
        parsed,
        pool_pre_ping=True,  # a restarted server costs one failed check, not a failed request
        pool_size=4,
        max_overflow=4,
        pool_timeout=timeout_s,
        connect_args={
            "connect_timeout": max(1, round(timeout_s)),
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
            "application_name": "kyr-bot",
        },
    )


def migrate(engine: Engine, timeout_s: float = 60.0) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    path = sqlite_path(engine.url)
    if path is not None:
        try:
            with FileLock(
                path.with_name(path.name + ".migrate.lock"), timeout=timeout_s, mode=0o600
            ):
                _upgrade(engine, config)
        except Timeout:
            raise StateError(f"another process holds the migration lock of {path}") from None
        return
    _upgrade(engine, config)


def _upgrade(engine: Engine, config: Config) -> None:
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Released at commit; a second replica waits here, then finds the schema current.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head

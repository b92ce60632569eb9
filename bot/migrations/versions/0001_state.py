"""The state tables: language, rate, feedback, feedback_seen, webhook.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

A database from before migrations (tables ``language``, ``rate`` and ``feedback``, chat keys
hashed with a salt kept beside the data) is adopted: its ``language`` and ``rate`` rows are
dropped, because their keys cannot be recomputed under the new secret (the state is small and
not essential: a language choice and a one-minute counter); the anonymous feedback totals are
kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = sa.String(64)  # hex HMAC-SHA256


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for old in ("language", "rate"):
        if old in existing:
            op.drop_table(old)
    op.create_table(
        "language",
        sa.Column("chat", KEY, primary_key=True),
        sa.Column("lang", sa.String(8), nullable=False),
    )
    op.create_table(
        "rate",
        sa.Column("chat", KEY, primary_key=True),
        # whole seconds: the counter needs no more, and a coarse time says less about a chat
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("rate_window_start", "rate", ["window_start"])
    if "feedback" not in existing:
        op.create_table(
            "feedback",
            sa.Column("doc_id", sa.String(200), primary_key=True),
            sa.Column("kind", sa.String(16), primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
        )
    op.create_table(
        "feedback_seen",
        # HMAC of (chat, document, kind) together: one tap is counted once, and the rows cannot
        # be grouped by chat without the secret.
        sa.Column("vote", KEY, primary_key=True),
    )
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer, primary_key=True),
        # HMAC of the registered URL and webhook secret: which configuration was registered
        sa.Column("fingerprint", KEY, nullable=False),
    )


def downgrade() -> None:
    for table in ("webhook", "feedback_seen", "feedback", "rate", "language"):
        op.drop_table(table)

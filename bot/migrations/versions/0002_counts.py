"""Anonymous counts for maintainers: questions with no answer, and feedback per section.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Both tables hold totals only: no question text, no chat key, no time. ``no_answer`` counts the
questions the documents could not answer by (language of the question, nearest section or
``none``); ``section_feedback`` counts votes and reasons by (section, kind).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "no_answer",
        sa.Column("lang", sa.String(8), primary_key=True),
        # the best candidate's section key ("en/doc-id#2"), below the bar, or "none"
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "section_feedback",
        sa.Column("section", sa.String(200), primary_key=True),
        # helpful, not_helpful, or a reason: wrong, unclear, out_of_date, not_my_question
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("section_feedback")
    op.drop_table("no_answer")

"""The exemplar files the urgency and scope classifiers learn from are well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.urgency import EXEMPLAR_DIR, OFF_TOPIC, SITUATIONS

FILES = sorted(EXEMPLAR_DIR.glob("*.jsonl"))
LABELS = {*SITUATIONS, "none", OFF_TOPIC, "harm"}


def _normal(text: str) -> str:
    """Lowercase words only, so "What's up?" and "whats up" count as the same line."""
    return " ".join(re.sub(r"[^\w ]", "", text.lower()).split())


def test_there_are_exemplar_files() -> None:
    assert len(FILES) >= 2


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_exemplar_lines_are_json_with_lang_text_and_a_known_label(path: Path) -> None:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        row = json.loads(line)
        assert set(row) == {"lang", "text", "label"}, f"{path.name}:{number}"
        assert row["lang"] == path.stem, f"{path.name}:{number}"
        assert row["label"] in LABELS, f"{path.name}:{number}"
        assert row["text"].strip() == row["text"] != "", f"{path.name}:{number}"


def test_no_exemplar_text_appears_twice_in_a_file_or_with_two_labels() -> None:
    # romanised Hindi and Urdu share lines, so the same text may be in two files, with one label
    labels: dict[str, str] = {}
    for path in FILES:
        seen: set[str] = set()
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            row = json.loads(line)
            key = _normal(row["text"])
            assert key not in seen, f"{path.name}:{number} repeats a line of the same file"
            seen.add(key)
            assert labels.setdefault(key, row["label"]) == row["label"], f"{path.name}:{number}"

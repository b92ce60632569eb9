"""The command line never crashes on hostile input (reliability audit LOW-1 and LOW-2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.settings import BotSettings

pytestmark = pytest.mark.slow
GOOD = '{"id": "last", "question": "Can Chicago police ask about my immigration status?"}'


def run(settings: BotSettings, args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    env = {"KYR_DATA_DIR": str(settings.data_dir), "KYR_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    result = CliRunner().invoke(cli, args, env=env, input=stdin, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.output


def test_hostile_batch_lines_never_stop_the_batch(
    built_index_settings: BotSettings, tmp_path: Path
) -> None:
    lines = [
        '{"id": 1, "question": "police \\udc80 status"}',
        '{"id": 2, "n": ' + "9" * 5000 + "}",
        "[" * 100_000,
        '{"a":' * 50_000,
        '{"id": 3, "question": "a line with a raw \u2028 separator inside"}',
        '{"id": [1], "question": 5}',
        "not json",
        GOOD,
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n\xff\xfe garbage\n")
    code, output = run(built_index_settings, ["ask", "--batch", str(batch)])
    assert code == 0
    rows = [json.loads(line) for line in output.split("\n") if line]  # rows may hold U+2028
    assert len(rows) == len(lines) + 1
    assert rows[0]["id"] == 1 and rows[0]["kind"] in ("answer", "no_answer")
    assert [r.get("line") for r in rows[1:4]] == [2, 3, 4] and all("error" in r for r in rows[1:4])
    assert rows[4]["id"] == 3 and "error" not in rows[4]
    assert rows[7]["id"] == "last" and rows[7]["kind"] == "answer"
    assert rows[8]["line"] == 9 and "error" in rows[8]


def test_invalid_utf8_in_argv_and_the_terminal_chat(built_index_settings: BotSettings) -> None:
    code, output = run(built_index_settings, ["ask", "--json", "police \udcff\udcfe status"])
    assert code == 0 and json.loads(output)["kind"] in ("answer", "no_answer")
    code, output = run(built_index_settings, ["ask", "--lang", "en", "police \udc80 status"])
    assert code == 0 and output
    code, output = run(built_index_settings, ["chat"], stdin=b"\xff\xfe police\n/quit\n")
    assert code == 0 and ("Sources" in output or "won't guess" in output)
    code, output = run(built_index_settings, ["ask", "q", "--batch", __file__])
    assert code == 1 and "not both" in output

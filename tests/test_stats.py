"""``python -m bot stats``: the index's figures and the bot's anonymous counts in one report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr

from bot.cli import cli
from bot.settings import BotSettings
from bot.state import NO_TOPIC, State
from bot.stats import index_stats

pytestmark = pytest.mark.slow


def run(settings: BotSettings, args: list[str]) -> Result:
    env = {"KYR_DATA_DIR": str(settings.data_dir), "KYR_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def test_bot_stats_reports_the_index_and_the_counts(
    built_index_settings: BotSettings, tmp_path: Path
) -> None:
    settings = built_index_settings
    state = State.open(settings.model_copy(update={"state_secret": SecretStr("s" * 32)}))
    try:
        for _ in range(2):
            state.add_no_answer("pl", "en/help-lines#5")
        state.add_no_answer("es", NO_TOPIC)
        state.add_no_answer("en", "en/help-lines#2")
        state.add_feedback("trust-act", "not_helpful", 1234, "en/trust-act#1")
        state.add_reason("en/trust-act#1", "out_of_date")
        state.add_feedback("trust-act", "person")
    finally:
        state.close()

    result = run(settings, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["index"] == json.loads(json.dumps(index_stats(settings)))  # ingest's own figures
    assert {"stale", "unreviewed_by_attorney", "languages"} <= set(data["index"])
    assert data["no_answer"] == {
        "total": 4,
        "by_language": {"pl": 2, "es": 1, "en": 1},
        "by_nearest_topic": {"en/help-lines": 3, "none": 1},
        "by_nearest_section": {"en/help-lines#5": 2, "none": 1, "en/help-lines#2": 1},
    }
    assert data["feedback_by_section"] == {"en/trust-act#1": {"not_helpful": 1, "out_of_date": 1}}
    assert data["feedback_by_document"] == {"trust-act": {"not_helpful": 1, "person": 1}}

    lines = run(settings, ["stats"]).stdout.split("\n")
    for line in (
        "Questions with no answer: 4",
        "  pl: 2",
        "  en/help-lines: 3",
        "  en/trust-act#1: not_helpful=1 out_of_date=1",
        "Asked for a person: 1",
        f"Not reviewed by an attorney: {data['index']['unreviewed_by_attorney']} documents",
    ):
        assert line in lines, line
    assert any(line.startswith("  es: ") and "(100%)" in line for line in lines)
    # reading counts needs no state secret, and makes none
    assert not (tmp_path / "config" / "state-secret").exists()


def test_bot_stats_without_an_index_still_shows_the_counts(tmp_path: Path) -> None:
    settings = BotSettings(data_dir=tmp_path / "nothing-here")
    result = run(settings, ["stats"])
    assert result.exit_code == 0, result.output
    assert "Index: unavailable" in result.stdout and "warning:" in result.stderr
    assert "Questions with no answer: 0" in result.stdout


def test_bot_stats_with_a_broken_state_url_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["stats"],
        env={"KYR_DATA_DIR": str(tmp_path / "var"), "KYR_STATE_URL": "mysql://x/y"},
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines()[-1].startswith("error: KYR_STATE_URL must be")
    assert "Traceback" not in result.output

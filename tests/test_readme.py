"""The README's maintainer walkthrough stays runnable: every command in it names a real command,
real options and existing files (parsed by the real click commands, not run)."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from bot.cli import cli as bot_cli
from ingest.cli import cli as ingest_cli
from ingest.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
CLIS = {"bot": bot_cli, "ingest": ingest_cli}


def walkthrough() -> list[str]:
    """The command lines of the first shell block of the maintainer's section."""
    text = README.read_text("utf-8")
    section = text.split("## Adding documents", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the maintainer's section has no ```sh block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_the_walkthrough_covers_every_step() -> None:
    lines = walkthrough()
    steps = ["ingest check", "ingest preview", "ingest build --dry-run", "make ingest"]
    steps += ["bot ask --explain", "bot stats", "ingest stats"]
    for step in steps:
        assert any(step in line for line in lines), step
    # in the order a change goes through
    firsts = [next(i for i, line in enumerate(lines) if step in line) for step in steps[:6]]
    assert firsts == sorted(firsts)


@pytest.mark.parametrize("line", walkthrough())
def test_each_walkthrough_command_parses(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # the README's paths are relative to the project folder
    words = shlex.split(line)
    if words[0] == "make":
        targets = re.findall(r"^([a-z-]+):", (PROJECT_ROOT / "Makefile").read_text(), re.M)
        assert words[1] in targets
        return
    assert words[:3] in (
        [".venv/bin/python", "-m", "bot"],
        [".venv/bin/python", "-m", "ingest"],
    ), line
    group = CLIS[words[2]]
    assert isinstance(group, click.Group)
    # parse without running: unknown commands or options, missing files and bad values fail here
    parent = click.Context(group, info_name=words[2])
    command = group.get_command(parent, words[3])
    assert command is not None, line
    command.make_context(words[3], words[4:], parent=parent)

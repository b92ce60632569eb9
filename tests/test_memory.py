"""Conversation memory: in process only, the last turns per chat, expiring, forgettable."""

from __future__ import annotations

from bot.engine import Turn
from bot.memory import Memory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_turns_expire_after_fifteen_idle_minutes_and_each_message_restarts_the_clock() -> None:
    clock = Clock()
    memory = Memory(clock=clock)
    memory.add(42, Turn("ice at my job what do i do", ("en/sensitive-places#2",), "en"))
    clock.now += 14 * 60
    assert [t.question for t in memory.history(42)] == ["ice at my job what do i do"]
    memory.add(42, Turn("and at church?", (), "en"))
    clock.now += 14 * 60  # 28 minutes after the first turn, 14 after the last: still there
    assert len(memory.history(42)) == 2
    clock.now += 61
    assert memory.history(42) == [] and len(memory) == 0


def test_only_the_last_turns_are_kept_and_forget_drops_a_chat_at_once() -> None:
    memory = Memory(turns=3)
    for i in range(5):
        memory.add(7, Turn(f"question {i}"))
    memory.add(8, Turn("other chat"))
    assert [t.question for t in memory.history(7)] == ["question 2", "question 3", "question 4"]
    memory.forget(7)
    assert memory.history(7) == [] and [t.question for t in memory.history(8)] == ["other chat"]


def test_chats_are_not_listed_by_id_and_the_oldest_go_first_when_full() -> None:
    memory = Memory(max_chats=2)
    for chat in (111111, 222222, 333333):
        memory.add(chat, Turn("q"))
    assert memory.history(111111) == [] and len(memory) == 2
    assert "222222" not in repr(memory._chats) and 222222 not in memory._chats

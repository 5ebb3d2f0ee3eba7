"""SIGKILL a real child process mid-stream of writes; nothing acknowledged may be lost."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.crash.harness import kill_once, make_sources

KILLS = 20


@pytest.fixture(scope="module")
def sources(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_sources(tmp_path_factory.mktemp("crash-sources"))


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(KILLS))
def test_kill_at_random_point_loses_no_acknowledged_write(
        round_: int, sources: list[Path], tmp_path: Path) -> None:
    rng = random.Random(1000 + round_)
    outcome = kill_once(tmp_path / "data", seed=round_, images=sources, max_ops=400,
                        kill_after_lines=rng.randrange(1, 300),
                        kill_delay_s=rng.uniform(0, 0.004))
    assert outcome.failures == []
    assert outcome.killed
    # The write-ahead works: the form is the acknowledged state, or a little later.
    assert outcome.acked_edits <= outcome.applied_edits <= outcome.intended_edits


def test_second_life_after_kill_continues_the_same_store(
        sources: list[Path], tmp_path: Path) -> None:
    """Kill twice in the same data dir: recovery leaves a store the next run can use."""
    data = tmp_path / "data"
    first = kill_once(data, seed=1, images=sources, max_ops=200, kill_after_lines=80)
    second = kill_once(data, seed=2, images=sources, max_ops=200, kill_after_lines=120)
    assert first.failures == [] and second.failures == []


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(6))
def test_kill_while_typing_in_the_editor_loses_at_most_the_key_in_flight(
        qapp: object, round_: int, tmp_path: Path) -> None:
    from tests.crash.harness import run_child, verify_editor

    rng = random.Random(500 + round_)
    data = tmp_path / "data"
    lines, killed = run_child(data, seed=round_, images=[], max_ops=300,
                              kill_after_lines=rng.randrange(5, 200),
                              kill_delay_s=rng.uniform(0, 0.003),
                              module="tests.crash.editor_child")
    assert killed
    assert sum(1 for ln in lines if ln.startswith("ACK")) > 0
    assert verify_editor(data, lines) == []

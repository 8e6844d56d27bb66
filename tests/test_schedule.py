"""loop/schedule.py: which RM serves each iteration and which iterations refresh it, recomputed from the config."""

from workbench.config import load_config
from workbench.loop.schedule import RMStep, refresh_labels, rm_after, rm_step


def _loop(*overrides):
    return load_config(preset="quick", overrides=["loop.iterations=3", *overrides]).loop


def test_without_a_refresh_the_reward_stage_rm_serves_every_iteration():
    loop = _loop()
    assert [refresh_labels(loop, t) for t in range(4)] == [0, 0, 0, 0]
    assert [rm_after(loop, t) for t in range(4)] == ["rm"] * 4
    assert rm_step(loop, 2) == RMStep(2, "rm", 0, None) and not rm_step(loop, 2).refreshes


def test_a_refresh_every_iteration_chains_the_rms():
    loop = _loop("loop.rm_refresh=true", "loop.refresh_pairs=7")
    assert [refresh_labels(loop, t) for t in range(5)] == [0, 7, 7, 7, 0]  # nothing before the loop or after it
    assert [rm_after(loop, t) for t in range(4)] == ["rm", "rm_1", "rm_2", "rm_3"]
    assert [rm_step(loop, t) for t in (1, 2, 3)] == [RMStep(1, "rm", 7, "rm_1"), RMStep(2, "rm_1", 7, "rm_2"),
                                                     RMStep(3, "rm_2", 7, "rm_3")]


def test_refresh_at_first_spends_every_label_at_iteration_1_and_keeps_that_rm():
    loop = _loop("loop.rm_refresh=true", "loop.refresh_pairs=7", "loop.refresh_at=first")
    assert [refresh_labels(loop, t) for t in (1, 2, 3)] == [21, 0, 0]
    assert [rm_after(loop, t) for t in range(4)] == ["rm", "rm_1", "rm_1", "rm_1"]
    assert rm_step(loop, 1) == RMStep(1, "rm", 21, "rm_1")
    assert rm_step(loop, 3) == RMStep(3, "rm_1", 0, None)

"""Which reward model serves each iteration of the loop, and which iterations refresh it (`loop.rm_refresh`).

The one place these are decided. Stages run in separate processes (a resumed run, `workbench stage`), so the answer
is recomputed from the stored config, never kept in memory: iteration t's rollout is ranked by the RM in use once
iteration t − 1 is done; when t refreshes, that RM trains on t's labels into models/rm_<t>, which then ranks the
rollout and serves every later stage until the next refresh. Without a refresh the reward stage's models/rm serves
every iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.config import LoopConfig, RefreshAt

REWARD_STAGE_RM = "rm"  # the reward stage's RM, under the run's models/


def refresh_labels(loop: LoopConfig, t: int) -> int:
    """Labels the RM refresh spends at iteration t (0: t does not refresh, the RM stays as it is)."""
    if not loop.rm_refresh or not 1 <= t <= loop.iterations:
        return 0
    if loop.refresh_at is RefreshAt.FIRST:  # every iteration's labels at once, on π0's samples: the control
        return loop.refresh_pairs * loop.iterations if t == 1 else 0
    return loop.refresh_pairs


def rm_after(loop: LoopConfig, t: int) -> str:
    """The folder (under models/) of the RM in use once iteration t is done (t = 0: after the reward stage)."""
    last = max((k for k in range(1, t + 1) if refresh_labels(loop, k)), default=0)
    return f"rm_{last}" if last else REWARD_STAGE_RM


@dataclass(frozen=True)
class RMStep:
    """Iteration t's reward model: `serving` ranks the rollout; when `labels` > 0 it first trains on that many new
    labels into `refreshed`, which ranks the rollout instead."""

    t: int
    serving: str
    labels: int
    refreshed: str | None

    @property
    def refreshes(self) -> bool:
        return self.labels > 0


def rm_step(loop: LoopConfig, t: int) -> RMStep:
    """Iteration t's RM step: the RM after t − 1, and whether (and into which folder) t refreshes it."""
    labels = refresh_labels(loop, t)
    return RMStep(t, rm_after(loop, t - 1), labels, rm_after(loop, t) if labels else None)

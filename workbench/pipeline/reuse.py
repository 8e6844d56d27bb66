"""Run reuse: which stages two configs can share (`Pipeline.fork`), and which finished run stands for a new one.

Seeded runs on CPU repeat their metrics, so a finished run made from the same config stands for a new run (an
experiment's arm that another experiment ran, a notebook's baseline), and a run that differs only after the reward
stage can start from another's π0, RM and π0 evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.config import RunConfig, to_dict
from workbench.store import query

# config sections the stages before the loop read: runs that agree on them can share those stages (`fork`)
PREFIX_KEYS = ("seed", "world", "annotator", "judges", "model", "pretrain", "sft", "reward", "eval", "generation",
               "lora")
# of those, the ones only the reward stage and π0's evaluation read: a fork that differs in them keeps π0 and trains
# its own reward model (`Pipeline.fork`)
REWARD_KEYS = ("annotator", "judges", "reward", "eval")


def prefix_differences(a: RunConfig, base: RunConfig) -> list[str]:
    """The config sections read by the stages before the loop (world, pretrain, SFT, reward, π0's evaluation) in
    which a run of `a` and one of `base` differ; [] when the first can share the second's stages. The loop's prompt
    count and the rollout's sample count and temperatures are the loop's, not the prefix's; a base that also trained
    the preference model serves a run that does not need it (the reward stage trains the BT RM first, so it is the
    same model either way)."""
    x, y = to_dict(a), to_dict(base)
    for d in (x, y):
        d["world"].pop("n_iter")
        d["generation"] = {k: d["generation"][k] for k in ("max_new_tokens", "top_p", "batch_size")}
    needs, has = (c.reward.train_pm or c.loop.oracle.needs_pm for c in (a, base))  # the reward stage trains a PM
    x["reward"]["train_pm"], y["reward"]["train_pm"] = needs or has, has
    return [k for k in PREFIX_KEYS if x[k] != y[k]]


def blocking_differences(differ: list[str]) -> list[str]:
    """Of `prefix_differences`' sections, those no fork can differ in (they shape π0); the rest, REWARD_KEYS, only
    make the fork run the reward stage and π0's evaluation itself."""
    return [k for k in differ if k not in REWARD_KEYS]


def shared_stages(prefix: list[str], differ: list[str]) -> list[str]:
    """The stages of the base's `prefix` (world, [pretrain,] sft, reward, evaluate) that a fork differing from it in
    `differ` takes over: all of them, or, when it differs in REWARD_KEYS, those before the reward stage."""
    return [stage for stage in prefix if not differ or stage not in ("reward", "evaluate")]


def finished_run(root: str | Path, cfg: RunConfig, match_name: bool = True, newest: bool = False) -> str | None:
    """A finished run under `root` made from exactly `cfg` (with `match_name=False`, its name aside; the oldest, or
    the newest with `newest`), else None. Seeded runs on CPU repeat their metrics, so such a run stands for a new
    one (an experiment's arm that another experiment ran, a notebook's baseline); `threads` is part of the config,
    so a run on another thread count does not match."""
    root = Path(root)
    if not root.is_dir():
        return None

    def key(config: dict) -> dict:
        return config if match_name else {k: v for k, v in config.items() if k != "name"}

    want = key(json.loads(json.dumps(to_dict(cfg))))
    _, rows = query(root, "select r.run_id, r.config from runs r join stages s on s.run_id = r.run_id and "
                          f"s.stage = 'done' where r.seed = ? order by r.created_at {'desc' if newest else 'asc'}",
                    [cfg.seed])
    return next((run_id for run_id, config in rows if key(json.loads(config)) == want), None)

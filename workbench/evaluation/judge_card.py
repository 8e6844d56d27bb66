"""A run's judge card beside the published figures: `workbench judges RUN` prints it.

The reward stage stores, per labeller of the reward data (world/judges.py), the `judge_card` table, and three
metrics at iteration 0: `annotator_pi0_gold_agreement`, `annotator_pi0_prefers_longer` (the GPT-4-like
annotator's expected agreement with gold and preference for the longer response on pairs of π0's own samples) and
`rm_length_corr_pi0` (the BT RM's reward–length Pearson over π0's samples of one prompt, averaged over prompts, as
the paper measured its RMs). The card sets them next to what the paper and alpaca_eval report, and the BT RM's
accuracy on the fixed `toy-bench` pairs next to the paper's BT RM on RewardBench.
"""

from __future__ import annotations

import math

from workbench.store import query
from workbench.world.judges import LABELLERS

# RLHF Workflow's BT RM on RewardBench, by section; and its reward–length Pearson over 16 SFT samples per prompt
PAPER_BT_REWARDBENCH = {"chat": 0.994, "chat-hard": 0.651, "safety": 0.878, "reasoning": 0.864}
PAPER_LENGTH_CORR = {"BT RM (LLaMA-3-8B)": 0.06, "UltraRM-13B": 0.19}
TARGETS = {  # the ranges the default world is held to (the card marks each figure in or out)
    "annotator_pi0_gold_agreement": (0.65, 0.80),
    "annotator_pi0_prefers_longer": (0.55, 0.75),
}
PROFILE_TOLERANCE = 0.07  # the default BT RM's toy-bench accuracy within this of the paper's, per section


def _fmt(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}" if isinstance(x, float) \
        else str(x)


def render(root, run_id: str) -> str:
    """The card of `run_id` as text: one row per labeller, then the run's judge metrics and its RM's profile."""
    _, rows = query(root, "select labeller, sections, pairs, abstained, length_ratio, paper_length_ratio, "
                          "pi0_gold_agreement, published_agreement, pi0_prefers_longer, published_prefers_longer, "
                          "stands_for from judge_card where run_id = ?", [run_id])
    rows = sorted(rows, key=lambda r: LABELLERS.index(r[0]) if r[0] in LABELLERS else len(LABELLERS))
    if not rows:
        raise ValueError(f"run {run_id!r} has no judge card (its reward stage has not finished, or it was made by a "
                         "version without one)")
    head = ("labeller", "sections", "pairs", "abstained", "chosen/rejected length", "paper's", "π0 gold agreement",
            "published", "π0 prefers longer", "published", "stands for")
    table = [head] + [tuple(_fmt(x) for x in r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = [f"judge card of run {run_id}: the reward data's labellers on pairs of π0's own samples", ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    _, metrics = query(root, "select name, value from metrics where run_id = ? and iteration = 0 and name in "
                             "('annotator_pi0_gold_agreement', 'annotator_pi0_prefers_longer', 'rm_length_corr_pi0',"
                             " 'rm_length_corr_pi0_skipped')", [run_id])
    m = dict(metrics)
    lines.append("")
    for name, (lo, hi) in TARGETS.items():
        v = m.get(name, math.nan)
        mark = "in" if lo <= v <= hi else "OUT of"
        lines.append(f"{name} = {_fmt(v)} ({mark} the target {lo:.2f}–{hi:.2f})")
    paper = ", ".join(f"{k} {v:.2f}" for k, v in PAPER_LENGTH_CORR.items())
    skipped = m.get("rm_length_corr_pi0_skipped")
    lines.append(f"rm_length_corr_pi0 = {_fmt(m.get('rm_length_corr_pi0', math.nan))} over π0's samples "
                 f"({'–' if skipped is None else int(skipped)} prompts left out; the paper: {paper})")
    _, acc = query(root, "select section, accuracy, n from rm_eval where run_id = ? and model = 'bt' and "
                         "dataset = 'toy-bench'", [run_id])
    got = {s: (a, n) for s, a, n in acc}
    profile = []
    for section, want in PAPER_BT_REWARDBENCH.items():
        a, n = got.get(section, (math.nan, 0))
        near = "near" if abs(a - want) <= PROFILE_TOLERANCE else "off"
        profile.append(f"{section} {_fmt(a)} (paper {want:.3f}, {near}; {n} pairs)")
    lines.append("BT RM on toy-bench vs the paper's BT RM on RewardBench: " + "; ".join(profile))
    return "\n".join(lines)

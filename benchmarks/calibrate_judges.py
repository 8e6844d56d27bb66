"""Set the labellers' knobs once, from published figures, on π0's own pairs (world/judges.py).

    python benchmarks/calibrate_judges.py --root runs --run RUN_ID

RUN_ID is a run whose reward stage has finished (the default preset, seed 0, for the shipped values); its π0
samples of the preference prompts (candidates of source pi0, 6 per prompt) give every pair of two samples of one
prompt. Each Bradley-Terry labeller's knobs are fitted on the pairs of its sections, with no random flips: its
noise comes from its temperature alone, so its mistakes fall on close calls, as people's do:

- annotator (chat, chat-hard): temperature and length_bias so that its expected agreement with gold (pairs whose
  gold differs) is 0.765 and its expected preference for the longer response (pairs whose lengths differ by 30% or
  more of the shorter) 0.68: a GPT-4 judge (world/judges.py `PUBLISHED`);
- human (chat, chat-hard): the same to 0.738 and 0.64: one human rater;
- safety (safety): temperature only (no length term) to 0.738.

The fit is a grid search (temperature 0.02–2 on a log scale × length_bias 0–3 in steps of 0.02) of the squared
distance to the targets; the figures are expectations (both display orders averaged), so the result does not
depend on a random draw. Prints the fitted values, the figures they reach, and the figures of the knobs the run
used. The values are then written into `JudgesConfig` and `AnnotatorConfig` by hand, once, before any loop arm
runs; docs/reward-models.md records the output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import yaml

from workbench.config import RunConfig, from_dict
from workbench.records import Generation, Prompt
from workbench.store import query
from workbench.world import judges

TEMPERATURES = np.geomspace(0.02, 2.0, 120)
LENGTH_BIASES = np.arange(0.0, 3.0001, 0.02)


def load_pairs(root: Path, run_id: str) -> dict[str, list[tuple]]:
    cols = [f"g.{f.name}" for f in dataclasses.fields(Generation)]
    _, rows = query(root, f"select {', '.join(cols)}, s.value from generations g join scores s using (run_id, "
                          "generation_id) where g.run_id = ? and g.purpose = 'pref' and s.scorer = 'gold' "
                          "order by g.generation_id", [run_id])
    gens, gold = [Generation(*r[:-1]) for r in rows], [r[-1] for r in rows]
    pcols = [f.name for f in dataclasses.fields(Prompt)]
    _, prompts = query(root, f"select {', '.join(pcols)} from prompts where run_id = ? and split = 'pref'", [run_id])
    return judges.pi0_pairs([Prompt(*p) for p in prompts], gens, gold)


def figures_grid(pairs: list[tuple], flip: float, temps, biases) -> tuple[np.ndarray, np.ndarray]:
    """Expected (agreement, prefers-longer) for every (temperature, length_bias): arrays of shape (T, B)."""
    ua, ub, ca, cb = (np.array([p[k] for p in pairs], dtype=float) for k in range(4))
    decided, long_ = ua != ub, (np.minimum(ca, cb) > 0) & (np.abs(ca - cb) >= judges.LONGER_BY * np.minimum(ca, cb))
    sign_gold = np.where(ua > ub, 1.0, -1.0)
    sign_long = np.where(ca > cb, 1.0, -1.0)
    agree, longer = np.empty((len(temps), len(biases))), np.empty((len(temps), len(biases)))
    for i, t in enumerate(temps):
        for j, b in enumerate(biases):
            pa = 1.0 / (1.0 + np.exp(-((ua - ub) + b * (ca - cb) / 100.0) / t))
            pa = (1 - flip) * pa + flip * (1 - pa)
            agree[i, j] = np.mean(np.where(sign_gold[decided] > 0, pa[decided], 1 - pa[decided]))
            longer[i, j] = np.mean(np.where(sign_long[long_] > 0, pa[long_], 1 - pa[long_]))
    return agree, longer


def fit(pairs, flip: float, target_agree: float, target_longer: float | None):
    biases = LENGTH_BIASES if target_longer is not None else np.array([0.0])
    agree, longer = figures_grid(pairs, flip, TEMPERATURES, biases)
    loss = (agree - target_agree) ** 2 + (0.0 if target_longer is None else (longer - target_longer) ** 2)
    i, j = np.unravel_index(np.argmin(loss), loss.shape)
    return float(TEMPERATURES[i]), float(biases[j]), float(agree[i, j]), float(longer[i, j])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="runs")
    ap.add_argument("--run", required=True)
    args = ap.parse_args()
    root = Path(args.root)
    cfg = from_dict(RunConfig, yaml.safe_load((root / args.run / "config.yaml").read_text()))
    by_section = load_pairs(root, args.run)
    print(f"π0's pairs of run {args.run}: " + ", ".join(f"{s} {len(p)}" for s, p in sorted(by_section.items())))
    fitted = {}
    flip = 0.0
    for who in ("annotator", "human", "safety"):
        pairs = judges.section_pairs(by_section, judges.SECTIONS[who])
        target = judges.PUBLISHED[who]
        want_longer = None if np.isnan(target.prefers_longer) else target.prefers_longer
        t, b, a, lo = fit(pairs, flip, target.agreement, want_longer)
        fitted[who] = {"temperature": round(t, 4), "length_bias": round(b, 2)}
        now = judges.expected_figures(who, cfg, pairs)
        print(f"{who}: target agreement {target.agreement:.3f}, prefers-longer "
              f"{'–' if want_longer is None else f'{want_longer:.2f}'}; fitted temperature {t:.4f}, length_bias "
              f"{b:.2f} (flip {flip}) → agreement {a:.3f}, prefers-longer {lo:.3f}; the run's knobs gave "
              f"{now.gold_agreement:.3f}, {now.prefers_longer:.3f} on {now.decided} / {now.long_pairs} pairs")
        # the package's own figures at the fitted knobs, as every run's judge card will compute them
        check = dataclasses.replace(
            cfg, annotator=dataclasses.replace(cfg.annotator, temperature=t, length_bias=b, flip_rate=flip),
            judges=dataclasses.replace(cfg.judges, human_temperature=t, human_length_bias=b, human_flip_rate=flip,
                                       safety_temperature=t, safety_flip_rate=flip))
        got = judges.expected_figures(who, check, pairs)
        assert abs(got.gold_agreement - a) < 1e-9, (got, a)
    print(json.dumps(fitted, indent=1))


if __name__ == "__main__":
    main()

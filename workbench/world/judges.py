"""The labellers of the reward data, one per role of the paper's preference sources (RLHF Workflow, Table 5).

The paper's reward models train on datasets labelled in different ways; the toy world labels each section's pairs
the way the datasets standing for that section were labelled (`reward.labels=mixture`, the default):

- `verifier` (reasoning; UltraInteract, CodeUltraFeedback, Argilla-Math): the right answer over the wrong one; it
  abstains when both are right or both wrong; `judges.verifier_flip_rate` of its labels are flipped.
- `safety` (safety; PKU-SafeRLHF): Bradley-Terry on gold with no length term (`judges.safety_*`).
- `annotator` (chat and chat-hard, 1 − the human share; UltraFeedback, Capybara, OpenOrca): the GPT-4-like annotator
  (`annotator.*`, world/annotator.py).
- `human` (chat and chat-hard, the human share; HH-RLHF, SHP, HelpSteer): Bradley-Terry on gold, noisier than the
  annotator and with a milder length bias (`judges.human_*`).

The human share of the chat pairs is Table 5's: (HH-RLHF + SHP + HelpSteer) / (those + UltraFeedback + Capybara +
OpenOrca) pairs = 0.405. `reward.labels=single` labels every pair with the annotator: the one-judge recipe whose RM
stands in for UltraRM.

Each labeller's noise and length preference come from a published figure or a stated assumption (`PUBLISHED`); the
knobs were set once from them on π0's pairs by `benchmarks/calibrate_judges.py` (docs/reward-models.md, "The
labellers"), and every run measures them again on its own π0's pairs: the judge card (`judge_card` table,
`annotator_pi0_*` metrics).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import NamedTuple

from workbench.config import AnnotatorConfig, RunConfig
from workbench.world.annotator import preference_probability

LABELLERS = ("verifier", "safety", "annotator", "human")
SECTIONS = {"verifier": ("reasoning",), "safety": ("safety",), "annotator": ("chat", "chat-hard"),
            "human": ("chat", "chat-hard")}


class Dataset(NamedTuple):
    """One of the paper's preference datasets (its Table 5): pairs kept, mean chosen and rejected length in tokens."""

    name: str
    pairs: int
    chosen_tokens: int
    rejected_tokens: int


PAPER_DATASETS = {
    "verifier": (Dataset("UltraInteract", 161_927, 397, 417), Dataset("CodeUltraFeedback", 50_156, 428, 401),
                 Dataset("Argilla-Math", 2_418, 277, 265)),
    "safety": (Dataset("PKU-SafeRLHF", 26_874, 70, 75),),
    "annotator": (Dataset("UltraFeedback", 340_025, 280, 211), Dataset("Capybara", 14_811, 348, 402),
                  Dataset("OpenOrca", 6_926, 165, 261)),
    "human": (Dataset("HH-RLHF", 115_396, 82, 74), Dataset("SHP", 93_301, 174, 89),
              Dataset("HelpSteer", 37_131, 116, 89)),
}


def paper_length_ratio(labeller: str) -> float:
    """Mean chosen / mean rejected length of the labeller's datasets, pooled by their pair counts."""
    sets = PAPER_DATASETS[labeller]
    return sum(d.pairs * d.chosen_tokens for d in sets) / sum(d.pairs * d.rejected_tokens for d in sets)


def paper_human_share() -> float:
    """The human-labelled share of the paper's chat pairs: HH-RLHF + SHP + HelpSteer over those and the GPT-4-rated
    UltraFeedback, Capybara and OpenOrca."""
    pairs = {k: sum(d.pairs for d in PAPER_DATASETS[k]) for k in ("human", "annotator")}
    return pairs["human"] / (pairs["human"] + pairs["annotator"])


# -- the published figures each labeller is set from ----------------------------------------------------------------

HUMAN_VS_OTHERS = 0.657  # alpaca_eval: one human's agreement with the majority of the other three (cross-annotations)
GPT4_VS_HUMANS = 0.675  # alpaca_eval / AlpacaFarm: GPT-4 judges' agreement with the human majority, 66–69%


def _majority_of_three(p: float) -> float:
    """P(the majority of three independent people, each right with probability p, is right)."""
    return p ** 3 + 3 * p ** 2 * (1 - p)


def _agreement(p: float, q: float) -> float:
    """How often two independent judges agree on a binary truth when they are right with probabilities p and q."""
    return p * q + (1 - p) * (1 - q)


def human_accuracy() -> float:
    """p such that one person right with probability p agrees with the majority of three others 65.7% of the time
    (bisection): about 0.74."""
    lo, hi = 0.5, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _agreement(mid, _majority_of_three(mid)) < HUMAN_VS_OTHERS else (lo, mid)
    return (lo + hi) / 2


def gpt4_accuracy() -> float:
    """q such that a judge right with probability q agrees with that human majority 67.5% of the time: about 0.76."""
    m = _majority_of_three(human_accuracy())
    return (GPT4_VS_HUMANS - (1 - m)) / (2 * m - 1)


class Published(NamedTuple):
    agreement: float  # with the truth (gold), on pairs whose gold differs; NaN: not set from a figure
    prefers_longer: float  # share of picks of the longer response where lengths differ; NaN: no length term
    source: str


PUBLISHED = {
    "verifier": Published(math.nan, math.nan, "assumed: 5% of correctness labels wrong (no published error rate)"),
    "safety": Published(
        human_accuracy(), math.nan,
        "assumed: PKU-SafeRLHF's crowd labels as noisy as one alpaca_eval human (0.74 from 65.7% agreement with the "
        "other annotators' majority); no length term (its chosen are the shorter, 70/75 tokens)"),
    "annotator": Published(
        gpt4_accuracy(), 0.68,
        "alpaca_eval: GPT-4 judges agree with the human majority 66–69% (0.76 with the truth); alpaca_eval_gpt4 "
        "picks the longer output 0.68 of the time where lengths differ"),
    "human": Published(
        human_accuracy(), 0.64,
        "alpaca_eval: one human agrees with the other three's majority 65.7% (0.74 with the truth); humans pick the "
        "longer output 0.64 of the time where lengths differ"),
}
LONGER_BY = 0.3  # prefers-longer counts pairs whose lengths differ by at least this share of the shorter one


def judge_config(labeller: str, cfg: RunConfig) -> AnnotatorConfig | None:
    """The Bradley-Terry judge of a labeller (world/annotator.py's model with the labeller's knobs); None for the
    verifier, which judges correctness instead."""
    j = cfg.judges
    if labeller == "annotator":
        return cfg.annotator
    if labeller == "human":
        return AnnotatorConfig(temperature=j.human_temperature, flip_rate=j.human_flip_rate,
                               length_bias=j.human_length_bias)
    if labeller == "safety":
        return AnnotatorConfig(temperature=j.safety_temperature, flip_rate=j.safety_flip_rate, length_bias=0.0)
    return None


def probability_a(labeller: str, cfg: RunConfig, u: tuple[float, float], chars: tuple[int, int],
                  correct: tuple[bool | None, bool | None]) -> float | None:
    """P(the labeller picks a over b), a shown first; None when it abstains (the verifier, where a and b are both
    right or both wrong, or where correctness is not defined)."""
    judge = judge_config(labeller, cfg)
    if judge is not None:
        return preference_probability(u[0], u[1], chars[0], chars[1], judge)
    if None in correct or correct[0] == correct[1]:
        return None
    flip = cfg.judges.verifier_flip_rate
    return 1.0 - flip if correct[0] else flip


def labeller_of(section: str, rng: random.Random, cfg: RunConfig) -> str:
    """Who labels a pair of `section`: the annotator for every pair with reward.labels=single; with mixture by
    section, the chat pairs drawn between the annotator and the human judge at judges.human_share."""
    if cfg.reward.labels == "single":
        return "annotator"
    if section == "reasoning":
        return "verifier"
    if section == "safety":
        return "safety"
    return "human" if rng.random() < cfg.judges.human_share else "annotator"


@dataclass
class MixtureLabels:
    """The labels of the reward data: (prompt index, pair index, chosen, rejected, labeller) per label, and how many
    pairs each labeller skipped (identical texts, or abstained)."""

    labels: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    identical: int = 0
    abstained: dict[str, int] = field(default_factory=dict)


def label_reward_pairs(rng: random.Random, sections: list[str], texts: list[str], chars: list[int],
                       gold: list[float], correct: list[bool | None], pairs, cfg: RunConfig) -> MixtureLabels:
    """One sampled label per pair (i, j, a, b) of sample indices (loop.sampling.disjoint_pairs), a shown first, by
    the labeller of prompt i's section (`labeller_of`). `sections` is indexed by prompt; `texts`, `chars`, `gold`
    and `correct` (the verifier's view: None where a family has no right answer) by sample."""
    out = MixtureLabels()
    for i, j, a, b in pairs:
        if texts[a] == texts[b]:
            out.identical += 1
            continue
        who = labeller_of(sections[i], rng, cfg)
        p = probability_a(who, cfg, (gold[a], gold[b]), (chars[a], chars[b]), (correct[a], correct[b]))
        if p is None:
            out.abstained[who] = out.abstained.get(who, 0) + 1
            continue
        c, r = (a, b) if rng.random() < p else (b, a)
        out.labels.append((i, j, c, r, who))
    return out


class Figures(NamedTuple):
    """A judge's expected agreement with gold and preference for the longer response over a set of pairs."""

    gold_agreement: float  # mean P(picks the gold-better one) over pairs whose gold differs
    prefers_longer: float  # mean P(picks the longer one) over pairs differing in length by ≥ LONGER_BY
    decided: int  # pairs behind gold_agreement
    long_pairs: int  # pairs behind prefers_longer


def expected_figures(labeller: str, cfg: RunConfig, pairs: list[tuple[float, float, int, int, object, object]]
                     ) -> Figures:
    """`labeller`'s figures on pairs (gold a, gold b, chars a, chars b, correct a, correct b), each pair's choice
    probability averaged over both display orders (the judge's position bias cancels), pairs it abstains on left
    out. Expectations, not samples: the same pairs always give the same figures."""
    agree, longer = [], []
    for ua, ub, ca, cb, ka, kb in pairs:
        pa = probability_a(labeller, cfg, (ua, ub), (ca, cb), (ka, kb))
        if pa is None:
            continue
        pa = 0.5 * (pa + 1.0 - probability_a(labeller, cfg, (ub, ua), (cb, ca), (kb, ka)))
        if ua != ub:
            agree.append(pa if ua > ub else 1.0 - pa)
        if min(ca, cb) > 0 and abs(ca - cb) >= LONGER_BY * min(ca, cb):
            longer.append(pa if ca > cb else 1.0 - pa)
    mean = lambda xs: sum(xs) / len(xs) if xs else math.nan  # noqa: E731
    return Figures(mean(agree), mean(longer), len(agree), len(longer))


def pi0_pairs(prompts, generations, gold: list[float]) -> dict[str, list[tuple]]:
    """Every pair of π0's samples (`generations` of source pi0) of one prompt, by section: (gold a, gold b, chars a,
    chars b, correct a, correct b) as `expected_figures` takes them. Identical texts are left out."""
    from workbench.world.toy import correct as is_correct

    by_prompt: dict[str, list[int]] = {}
    for k, g in enumerate(generations):
        if g.source == "pi0":
            by_prompt.setdefault(g.prompt_id, []).append(k)
    out: dict[str, list[tuple]] = {}
    for p in prompts:
        idx = by_prompt.get(p.prompt_id, [])
        right = {k: is_correct(p, generations[k].text) for k in idx}
        for x, a in enumerate(idx):
            for b in idx[x + 1:]:
                if generations[a].text == generations[b].text:
                    continue
                out.setdefault(p.section, []).append((gold[a], gold[b], generations[a].n_chars,
                                                      generations[b].n_chars, right[a], right[b]))
    return out


def section_pairs(by_section: dict[str, list[tuple]], sections) -> list[tuple]:
    return [pair for s in sections for pair in by_section.get(s, [])]


def describe(labeller: str) -> str:
    """The paper's datasets a labeller stands for, with their pair counts."""
    return ", ".join(f"{d.name} ({d.pairs:,})" for d in PAPER_DATASETS[labeller])

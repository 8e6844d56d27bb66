"""Records that cross stages, one dataclass per store table.

The store's tables are exactly these classes: the column names and types come from the fields, so the loop, the
CLI, the dashboard and the viewer all read the same shapes. Every table also has `run_id` as its first column.
Add a field at the end (with a default) to extend a table; old segments then read it as NULL.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa


@dataclass
class Run:
    """One `workbench run`. Status is derived from the stages table (see `store.RUNS_STATUS_SQL`)."""

    TABLE: typing.ClassVar[str] = "runs"
    run_id: str
    created_at: datetime
    name: str  # preset or config name
    seed: int
    world_seed: int
    iterations: int  # planned DPO iterations
    config: str  # the resolved config, JSON


@dataclass
class Stage:
    """A finished stage: written once its outputs are in the store."""

    TABLE: typing.ClassVar[str] = "stages"
    run_id: str
    stage: str  # world, sft, reward, iteration, evaluate, done
    iteration: int  # 0 for the stages before the loop
    wall_s: float
    finished_at: datetime


@dataclass
class Prompt:
    TABLE: typing.ClassVar[str] = "prompts"
    run_id: str
    prompt_id: str
    split: str  # sft, pref, iter, eval
    iteration: int  # the DPO iteration for split == "iter", else 0
    section: str  # chat, chat-hard, safety, reasoning (RewardBench's sections)
    family: str
    text: str
    meta: str  # JSON: what the gold oracle needs (the numbers, the topic, ...)
    reference: str  # the ideal response


@dataclass
class Iteration:
    TABLE: typing.ClassVar[str] = "iterations"
    run_id: str
    iteration: int
    policy_path: str  # π_t, relative to the run folder
    reference: str  # initial | previous
    n_prompts: int
    n_generations: int
    n_pairs: int
    n_ties_dropped: int


@dataclass
class Generation:
    TABLE: typing.ClassVar[str] = "generations"
    run_id: str
    generation_id: str
    prompt_id: str
    iteration: int  # policy π_iteration produced it
    purpose: str  # rollout (loop samples), eval (held-out evaluation), pref (reward-model training samples)
    sample_index: int
    temperature: float
    top_p: float
    max_new_tokens: int
    text: str
    n_tokens: int
    n_chars: int
    source: str = ""  # reward-model candidates (purpose pref): pi0, demo or perturbed:<kind>; "" = the policy's sample


@dataclass
class Score:
    TABLE: typing.ClassVar[str] = "scores"
    run_id: str
    generation_id: str
    scorer: str  # rm, gold
    value: float


@dataclass
class Pair:
    TABLE: typing.ClassVar[str] = "pairs"
    run_id: str
    pair_id: str
    iteration: int  # DPO iteration that trains on it; 0 = reward-model training pairs
    prompt_id: str
    chosen_id: str
    rejected_id: str
    chosen_score: float  # score the rule ranked by (after the length penalty for best_worst)
    rejected_score: float
    margin: float
    rule: str  # best_worst (loop) or annotator (reward-model data)
    scorer: str  # rm, gold, annotator


@dataclass
class Metric:
    TABLE: typing.ClassVar[str] = "metrics"
    run_id: str
    iteration: int
    name: str  # gold_win_rate, gold_utility, rm_reward, ...; per section as "gold_win_rate.reasoning"
    value: float



_ARROW = {str: pa.string(), int: pa.int64(), float: pa.float64(), datetime: pa.timestamp("us"), bool: pa.bool_()}
_DUCKDB = {str: "VARCHAR", int: "BIGINT", float: "DOUBLE", datetime: "TIMESTAMP", bool: "BOOLEAN"}


def _columns(cls) -> list[tuple[str, type]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]


def arrow_schema(cls) -> pa.Schema:
    return pa.schema([(name, _ARROW[tp]) for name, tp in _columns(cls)])


def duckdb_columns(cls) -> list[tuple[str, str]]:
    return [(name, _DUCKDB[tp]) for name, tp in _columns(cls)]


@dataclass
class EvalRow:
    """One eval prompt's comparison of π_t with the baseline (π0): every evaluation number can be recomputed."""

    TABLE: typing.ClassVar[str] = "evals"
    run_id: str
    iteration: int
    prompt_id: str
    section: str
    policy: str  # pi_<t>
    baseline: str  # pi_0
    policy_generation_id: str
    baseline_generation_id: str
    policy_chars: int
    baseline_chars: int
    policy_gold: float
    baseline_gold: float
    gold_preference: float  # 1 policy better, 0.5 tie, 0 worse (gold utility)
    annotator_preference: float  # the simulated annotator's P(policy ≻ baseline), both display orders averaged
    policy_logprob: float  # log π_t(response), eval temperature
    ref_logprob: float  # log π0(response), eval temperature


@dataclass
class Label:
    """A person's verdict on one pair, from the viewer (`workbench label`); see labels.py.

    The two responses are shown in an order drawn at random per item: `displayed_left` was shown as A (left),
    `displayed_right` as B (right). `choice` is what was clicked; `preferred_id` is the same verdict without the
    order: the generation id the person preferred, "" for tie and skip.
    """

    TABLE: typing.ClassVar[str] = "labels"
    run_id: str
    label_id: str  # uuid4 hex
    pair_id: str  # pairs.pair_id of the same run
    labeler: str  # the name typed in the viewer, stored as given (data, never interpreted)
    created_at: datetime
    queue: str  # random, uncertain, disagree, audit, refresh: how the pair was picked (agreement differs by queue)
    displayed_left: str  # generation id shown as A
    displayed_right: str  # generation id shown as B
    choice: str  # A (left better), B (right better), tie, skip
    preferred_id: str  # generation id preferred; "" for tie and skip
    comment: str
    seconds_spent: float  # from the item appearing to the click



@dataclass
class ExperimentArm:
    """Membership of a run in a named comparison (`workbench experiment`)."""

    TABLE: typing.ClassVar[str] = "experiments"
    run_id: str  # the arm's run
    experiment_id: str  # one invocation of `workbench experiment`
    experiment: str  # online-vs-offline, length-penalty, oracle, trl-online-dpo, rl-baseline
    arm: str
    seed: int
    overrides: str  # JSON list of the --set overrides that define the arm


@dataclass
class DataFilter:
    """What the preference-data filters did to one source of a mixture: one row per reason (see filters.py),
    plus `kept` (pairs after the filters) and `used` (after sampling)."""

    TABLE: typing.ClassVar[str] = "data_filter"
    run_id: str
    mixture: str  # mix1, mix2, toy, or "run" for a run's own reward-model data
    source: str
    format: str
    reason: str  # empty_turn, identical, tie, small_margin, low_score_ratio, per_prompt_cap, invalid:<field>, ...
    count: int


@dataclass
class RMEval:
    """Pairwise accuracy of a reward model (bt) or the pairwise preference model (pm) on held-out pairs."""

    TABLE: typing.ClassVar[str] = "rm_eval"
    run_id: str
    model: str  # bt | pm
    dataset: str  # toy-heldout (gold-labelled pairs of π0 samples on eval prompts) or a RewardBench file's name
    section: str  # chat, chat-hard, safety, reasoning, or "all"
    n: int  # pairs
    accuracy: float  # share ranked right (ties half); pm: both orders averaged
    accuracy_chosen_a: float  # pm only (position bias): accuracy with the chosen response in slot A; NaN for bt
    accuracy_chosen_b: float  # pm only: with the chosen response in slot B


@dataclass
class Scored:
    """Generations of one policy on some prompts, with their scores, in (prompt, sample) order. Not a table: what
    sampling hands the stage that stores it (`generations` rows and, through score_rows, `scores` rows)."""

    generations: list[Generation]
    gold: list[float]
    rm: list[float]

    def score_rows(self, run_id: str) -> list[Score]:
        """Gold and RM scores; no gold row for a sample of a prompt from outside the world (its gold is NaN)."""
        gold = [Score(run_id, g.generation_id, "gold", u)
                for g, u in zip(self.generations, self.gold) if not math.isnan(u)]
        return gold + [Score(run_id, g.generation_id, "rm", r) for g, r in zip(self.generations, self.rm)]


@dataclass
class JudgeCard:
    """One labeller of a run's reward data (world/judges.py), measured on that run: what it labelled, and how it
    relates to gold and to length on pairs of π0's own samples, beside the published figures it was set from."""

    TABLE: typing.ClassVar[str] = "judge_card"
    run_id: str
    labeller: str  # verifier, safety, annotator, human
    sections: str  # the sections whose pairs it labels, comma-separated
    stands_for: str  # the paper's datasets (Table 5) with their pair counts
    pairs: int  # reward-data pairs it labelled
    abstained: int  # pairs it left unlabelled (the verifier: both answers right, or both wrong)
    length_ratio: float  # mean chosen / mean rejected characters of its pairs
    paper_length_ratio: float  # mean chosen / mean rejected tokens of its datasets, pooled by pairs
    pi0_gold_agreement: float  # expected agreement with gold on pairs of π0's samples whose gold differs
    pi0_prefers_longer: float  # expected share of picks of the longer on π0's pairs differing in length by ≥ 30%
    pi0_pairs_decided: int  # π0's pairs behind pi0_gold_agreement
    pi0_pairs_long: int  # π0's pairs behind pi0_prefers_longer
    published_agreement: float  # the figure it was set to (NaN: an assumption instead)
    published_prefers_longer: float  # NaN: no length term
    published_source: str  # where those figures come from


TABLES: dict[str, type] = {
    cls.TABLE: cls
    for cls in (Run, Stage, Prompt, Iteration, Generation, Score, Pair, Metric, EvalRow, Label, ExperimentArm,
                DataFilter, RMEval, JudgeCard)
}

"""Named preference mixtures (the paper's App. B.1) and the toy world's own preference set as a source.

    workbench data mix mix2 --source hh-rlhf=hh.jsonl --source shp=shp.parquet ... --out mix2.jsonl
    workbench data mix toy --out toy.jsonl                  # no files needed: made from the toy world

A recipe lists its sources: which loader reads each, which filters run on it (the universal three, plus the
paper's per-dataset ones, see filters.py) and how it is sampled: `weight` × its kept pairs, at most `max_pairs`
(the count the paper kept, so full public files reproduce the paper's proportions). Sources without a file are
reported as missing and left out, so a recipe runs on whatever subset a user has.

- mix1 = HH-RLHF + SHP + UltraFeedback + summarization (OpenAI's summarize_from_feedback, given as a `pairs` file).
- mix2 = HH-RLHF 115,396 + SHP 93,301 + HelpSteer 37,131 + PKU-SafeRLHF-30K 26,874 + UltraFeedback 340,025 +
  UltraInteract 161,927 + CodeUltraFeedback 50,156 + Argilla-Math 2,418 + OpenOrca 6,926 + Capybara 14,811
  (CodeUltraFeedback and Argilla-Math have no loader of their own: give them converted to the `pairs` schema).
- toy = the toy world's preference prompts, two imperfect demonstrations each, labelled by the simulated annotator.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from workbench.data.filters import FilterConfig, apply_filters, default_filters
from workbench.data.formats import DataError, PreferencePair
from workbench.data.sources import load_pairs


@dataclass(frozen=True)
class Source:
    name: str  # what users pass a file under: --source NAME=PATH
    format: str  # a datasets.FORMATS name, or "toy"
    max_pairs: int | None = None  # at most this many pairs (the paper's count)
    weight: float = 1.0  # share of the kept pairs to sample
    filters: FilterConfig | None = None  # None: filters.default_filters(format)


@dataclass(frozen=True)
class Recipe:
    name: str
    sources: tuple[Source, ...]
    note: str = ""


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "mix1",
            (Source("hh-rlhf", "hh-rlhf"), Source("shp", "shp"), Source("ultrafeedback", "ultrafeedback"),
             Source("summarization", "pairs")),
            "HH-RLHF + SHP + UltraFeedback + summarization",
        ),
        Recipe(
            "mix2",
            (
                Source("hh-rlhf", "hh-rlhf", 115_396),
                Source("shp", "shp", 93_301),
                Source("helpsteer", "helpsteer", 37_131),
                Source("pku-saferlhf", "pku-saferlhf", 26_874),
                Source("ultrafeedback", "ultrafeedback", 340_025),
                Source("ultrainteract", "ultrainteract", 161_927),
                Source("code-ultrafeedback", "pairs", 50_156),
                Source("argilla-math", "pairs", 2_418),
                Source("orca", "orca", 6_926),
                Source("capybara", "capybara", 14_811),
            ),
            "the paper's 844K-pair mixture (counts after filtering)",
        ),
        Recipe("toy", (Source("toy", "toy"),), "the toy world's preference prompts, annotator-labelled demonstrations"),
    )
}


@dataclass
class SourceReport:
    name: str
    format: str
    file: str | None
    status: str  # used, missing
    rows: int = 0
    loaded: int = 0  # pairs the loader made
    kept: int = 0  # after filters
    used: int = 0  # after sampling
    dropped: Counter = field(default_factory=Counter)  # by reason, including invalid rows and "sampled_out"


@dataclass
class Mixture:
    recipe: str
    pairs: list[PreferencePair]
    reports: list[SourceReport]


def toy_pairs(cfg=None) -> tuple[int, list[PreferencePair]]:
    """The toy world's preference set without a model: for each preference prompt, two of the world's imperfect
    demonstrations, labelled by the simulated annotator. Returns (prompts used, pairs)."""
    from workbench.config import RunConfig
    from workbench.world.annotator import prefers_a
    from workbench.world.toy import FAMILIES, build_world, gold_utility

    cfg = cfg or RunConfig()
    prompts = build_world(cfg.world, 1, "toy").split("pref")
    rng = random.Random(cfg.seed * 1000 + 7)
    out = []
    for p in prompts:
        family, meta = FAMILIES[p.family], json.loads(p.meta)
        a, b = family.demonstration(meta, rng, cfg.world), family.demonstration(meta, rng, cfg.world)
        ua, ub = gold_utility(p, a), gold_utility(p, b)
        c, r = (a, b) if prefers_a(rng, ua, ub, len(a), len(b), cfg.annotator) else (b, a)
        out.append(PreferencePair([{"role": "user", "content": p.text}], c, r, "toy", p.section, prompt_id=p.prompt_id))
    return len(prompts), out


def build_mixture(
    recipe: str | Recipe,
    files: dict[str, str],
    *,
    seed: int = 0,
    skip_invalid: bool = False,
    run_config=None,
) -> Mixture:
    """Load, filter and sample every source of `recipe` that has a file (the toy source needs none)."""
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise DataError(f"unknown mixture {recipe!r} (known: {', '.join(RECIPES)})")
        recipe = RECIPES[recipe]
    unknown = sorted(set(files) - {s.name for s in recipe.sources})
    if unknown:
        names = ", ".join(s.name for s in recipe.sources)
        raise DataError(f"mixture {recipe.name} has no source {unknown[0]!r} (sources: {names})")
    rng = random.Random(seed)
    out, reports = [], []
    for src in recipe.sources:
        path = files.get(src.name)
        if src.format == "toy":
            rows, loaded = toy_pairs(run_config)
            invalid: Counter = Counter()
        elif path is None:
            reports.append(SourceReport(src.name, src.format, None, "missing"))
            continue
        else:
            res = load_pairs(src.format, path, skip_invalid=skip_invalid)
            rows, loaded, invalid = res.rows, res.pairs, res.dropped()
        kept, dropped = apply_filters(loaded, src.filters or default_filters(src.format))
        dropped.update(invalid)
        n = min(len(kept), round(src.weight * len(kept)), src.max_pairs if src.max_pairs is not None else len(kept))
        used = kept if n == len(kept) else [kept[i] for i in sorted(rng.sample(range(len(kept)), n))]
        if n < len(kept):
            dropped["sampled_out"] += len(kept) - n
        out += used
        reports.append(SourceReport(src.name, src.format, path, "used", rows, len(loaded), len(kept), len(used),
                                    dropped))
    return Mixture(recipe.name, out, reports)


def filter_records(run_id: str, mixture: str, reports: list[SourceReport]) -> list:
    """Rows of the `data_filter` table: per source, one row per drop reason plus `kept` and `used`."""
    from workbench.records import DataFilter

    rows = []
    for r in reports:
        if r.status != "used":
            continue
        rows.append(DataFilter(run_id, mixture, r.name, r.format, "kept", r.kept))
        rows.append(DataFilter(run_id, mixture, r.name, r.format, "used", r.used))
        rows += [DataFilter(run_id, mixture, r.name, r.format, reason, n) for reason, n in sorted(r.dropped.items())]
    return rows

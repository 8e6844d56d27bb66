"""Reward models on any preference data, outside a toy run: the paper's first half on public data.

    workbench rm train --model MODEL --data FORMAT:PATH [--data ...] --out DIR [--pm] [--config FILE] [--set k=v]
    workbench rm eval --models DIR --file reward_bench.jsonl

A run's reward stage (run.py) trains the BT RM and the PM on its annotator's labels of π0's samples. This trains
the same two models with the same trainers (`reward.train_reward`, `preference_model.train_pm`) from any causal LM
— a `save_pretrained` folder, or a hub id where the machine can reach the hub — on preference files of any
`workbench data prepare` format (a mixture written by `workbench data mix --out` is a `pairs` file). Each file goes
through its format's default filters; the hyperparameters are the config's `reward.*` fields and
`model.max_length`.

How a pair becomes model input (the layout), decided by the base model's tokenizer:
- `chat`, when it has a chat template: the BT RM trains on conversational rows, which TRL's RewardTrainer renders
  with the template (prompt turns + the response as the assistant turn); scoring renders the same text. This is
  how RLHFlow trains its Llama-3 reward models.
- `toy`, otherwise (the toy world's tokenizer): "Q: {prompt}\\nA:" + " " + response + eos, as a run's RM sees it;
  a conversation of several turns becomes "role: content" lines.
The PM always reads the paper's template (`preference_model.pm_prompt`) with the conversation as plain text.

Pairs longer than `model.max_length` tokens (prompt + either response) are dropped before training and counted,
reason `too_long`; TRL's RewardTrainer would drop them silently. The output folder holds `rm/` (and `pm/`), each
a `save_pretrained` model with its tokenizer, and `rm_train.json`: the base model, the layout, what every file
kept and dropped by reason, the trainers' metrics. It is written under a temporary name and renamed when
everything is done, so a failed run leaves nothing that looks finished.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workbench.config import RunConfig, is_hub_id, pair_source, to_dict
from workbench.data.formats import PreferencePair
from workbench.data.layout import Layout
from workbench.models.reward import RM_TRAIN_REPORT as REPORT


@dataclass
class SourceReport:
    """What one `--data` file gave: rows read, pairs loaded, kept after the filters and the length cut."""

    source: str
    rows: int
    pairs: int
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)


def load_sources(sources: list[str], layout: Layout, tokenizer, max_length: int,
                 skip_invalid: bool = False) -> tuple[list[PreferencePair], list[SourceReport]]:
    """Every `FORMAT:PATH` (or `FORMAT:owner/name`, a hub dataset) source loaded, filtered by its format's defaults
    and cut at `max_length` tokens.

    All files are read and checked before anything trains: a bad row raises DataError naming the file, row and
    field (unless `skip_invalid`, which counts it as `invalid:<field>`)."""
    from workbench.data.filters import apply_filters, default_filters
    from workbench.data.sources import load_pairs

    pairs, reports = [], []
    for source in sources:
        fmt, path = pair_source(source, "--data")
        res = load_pairs(fmt, path, skip_invalid=skip_invalid, hub=is_hub_id(path))
        kept, dropped = apply_filters(res.pairs, default_filters(fmt))
        dropped.update(res.dropped())
        fits = [p for p in kept
                if max(len(layout.reward_ids(tokenizer, p, r)) for r in (p.chosen, p.rejected)) <= max_length]
        if len(fits) < len(kept):
            dropped["too_long"] = len(kept) - len(fits)
        pairs += fits
        reports.append(SourceReport(source, res.rows, len(res.pairs), len(fits), dict(sorted(dropped.items()))))
    return pairs, reports


def main(cfg: RunConfig, base: str, sources: list[str], out: str | Path, train_pm: bool = False,
         skip_invalid: bool = False, log=print) -> dict:
    """Train the BT RM (and the PM) from `base` on `sources`; returns the report written to `out`/rm_train.json."""
    from transformers import AutoTokenizer

    from workbench import console
    from workbench.distributed import seed_everything
    from workbench.models.gguf import model_source
    from workbench.models.lm import ensure_pad_token
    from workbench.models.preference import train_pm as fit_pm
    from workbench.models.reward import train_reward

    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists: choose a new --out folder (nothing was trained)")
    console.apply()
    seed_everything(cfg.seed, cfg.threads)
    given, base = base, model_source(base)  # a GGUF checkpoint: its imported folder
    tokenizer = AutoTokenizer.from_pretrained(base)
    ensure_pad_token(tokenizer)
    layout = Layout.for_tokenizer(tokenizer)
    pairs, reports = load_sources(sources, layout, tokenizer, cfg.model.max_length, skip_invalid)
    for r in reports:
        log(f"[workbench] {r.source}: {r.rows} rows → {r.pairs} pairs → kept {r.kept}"
            + (f" (dropped: {', '.join(f'{k} {v}' for k, v in r.dropped.items())})" if r.dropped else ""))
    if not pairs:
        raise ValueError("no pairs left to train on after the filters: nothing was trained")
    log(f"[workbench] training the BT reward model on {len(pairs)} pairs ({layout.value} layout)")
    init = Path(base) if Path(base).exists() else base  # a hub id stays a name: the loaders check only Paths
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        report = {"base": given, **({"base_folder": base} if base != given else {}), "layout": layout.value,
                  "pairs": len(pairs),
                  "sources": [dataclasses.asdict(r) for r in reports], "config": to_dict(cfg)}
        report["bt"] = train_reward(cfg, pairs, init, tokenizer, tmp / "rm", layout=layout, source=given)
        if train_pm:
            log(f"[workbench] training the preference model on {len(pairs)} pairs")
            seed_everything(cfg.seed, cfg.threads)
            report["pm"] = fit_pm(cfg, [layout.pm_row(p) for p in pairs], init, tokenizer, tmp / "pm")
        for name in ("rm", "pm"):
            shutil.rmtree(tmp / name / "trainer", ignore_errors=True)  # TRL's run folders: logs, no weights
        (tmp / REPORT).write_text(json.dumps(report, indent=1, default=float))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"[workbench] saved {out}/rm" + (f" and {out}/pm" if train_pm else ""))
    return report


def evaluate_models(models: str | Path, file: str | Path, max_part_chars: int | None = None, log=print):
    """Accuracy by section of the models `workbench rm train` saved in `models`, on a RewardBench-format file:
    RMEval rows (run_id = the folder's name), also written to `models`/rm_eval_<file stem>.json."""
    from workbench import console

    console.apply()
    from workbench.data.sources import load_pairs
    from workbench.evaluation.rm_eval import evaluate
    from workbench.models.lm import load_tokenizer
    from workbench.models.preference import load_pm
    from workbench.models.reward import load_reward_model, scoring_of

    models = Path(models)
    if not (models / REPORT).is_file():
        raise FileNotFoundError(f"{models} is not a folder written by `workbench rm train` (no {REPORT})")
    layout = scoring_of(models / "rm").layout
    tokenizer = load_tokenizer(models / "rm")
    bt = load_reward_model(models / "rm", tokenizer)
    pm = load_pm(models / "pm") if (models / "pm").is_dir() else None
    pairs = load_pairs("reward-bench", file).pairs
    log(f"[workbench] rm eval: {len(pairs)} pairs from {file}")
    rows = evaluate(models.name, Path(file).stem, pairs, tokenizer, bt, pm, max_part_chars, layout=layout)
    (models / f"rm_eval_{Path(file).stem}.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    return rows

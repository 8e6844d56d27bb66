"""The Bradley-Terry reward model: π0 with a scalar head, trained with TRL's RewardTrainer on −log σ(r_c − r_r).

Training pairs are two samples of π0 for the same preference prompt, labelled by the simulated annotator
(annotator.py), so the RM inherits the annotator's noise and length bias, as a real RM inherits its labellers'.

This module owns how an RM reads a (prompt, response), its layout (data/layout.py `Layout`): training lays every row
out that way and writes the folder's scoring record (SCORING: the model it started from and the layout), and every
load reads the record back, so a score always sees the text the RM was trained on. `continue_reward` (the online
refresh) trains an RM further in its own layout and tokenizer and passes the record on. Folders of earlier versions
still load: a toy run's RM without a record reads the toy layout with the run's tokenizer, and the rm/ folder of
`workbench rm train` without one takes the layout from the rm_train.json beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from workbench.config import RunConfig
from workbench.data.formats import PreferencePair
from workbench.data.layout import Layout
from workbench.models.lm import batched_logits, ensure_pad_token, peft_config, train_and_save, training_args

SCORING = "workbench_scoring.json"  # in every RM folder written since: {"source": the model it started from, "layout"}
RM_TRAIN_REPORT = "rm_train.json"  # written by `workbench rm train` beside its rm/ folder (pipeline/rm_train.py)


class Scoring(NamedTuple):
    """How an RM folder reads a (prompt, response): the model it was trained from, and its layout."""

    source: str
    layout: Layout


def scoring_of(folder: Path) -> Scoring | None:
    """The folder's scoring record; for an rm/ folder that `workbench rm train` wrote before records existed, the
    layout of the rm_train.json beside it; else None: an RM of an earlier toy run, which reads the toy layout with
    the run's tokenizer."""
    folder = Path(folder)
    if (folder / SCORING).is_file():
        recorded = json.loads((folder / SCORING).read_text())
        return Scoring(recorded["source"], Layout(recorded["layout"]))
    report = folder.parent / RM_TRAIN_REPORT
    if report.is_file():
        recorded = json.loads(report.read_text())
        return Scoring(recorded["base"], Layout(recorded["layout"]))
    return None


def _write_scoring(folder: Path, scoring: Scoring) -> None:
    (folder / SCORING).write_text(json.dumps({"source": scoring.source, "layout": scoring.layout.value}))


def load_reward_model(path: Path | str, tokenizer):
    """A `save_pretrained` folder (a Path, checked) or a hub id (a str), with a scalar head (new if it had none).
    A folder with a scoring record reads with its own tokenizer in its layout (`score`); `tokenizer` serves the
    others."""
    from transformers import AutoModelForSequenceClassification

    if isinstance(path, Path) and not path.exists():
        raise FileNotFoundError(f"model folder {path} does not exist")
    from workbench.models.lm import device

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype="float32").to(device())
    scoring = scoring_of(path) if isinstance(path, Path) else None
    if scoring is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model.workbench_scoring = (tokenizer, scoring.layout)
    # The head finds each sequence's last token by its pad id: it must be set, and differ from eos.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def train_reward(cfg: RunConfig, rows: list[dict | PreferencePair], init_dir: Path | str, tokenizer, out: Path, *,
                 layout: Layout | None = None, source: str | None = None, epochs: float | None = None,
                 learning_rate: float | None = None, seed: int | None = None) -> dict:
    """Train on `rows` (toy rows {"prompt", "chosen", "rejected"} as `toy_row` makes them, or PreferencePairs of
    any conversation) laid out in `layout`, starting from `init_dir`; save to `out` with its scoring record.
    `layout` defaults to the tokenizer's (`Layout.for_tokenizer`: π0's chat template when it has one, so the RM reads
    what the policy writes); `source` (recorded) to `init_dir`. `epochs`, `learning_rate` and `seed` default to the
    reward stage's."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    layout = Layout.for_tokenizer(tokenizer) if layout is None else layout
    r = cfg.reward
    args = RewardConfig(
        **training_args(cfg.seed if seed is None else seed, out / "trainer", r.epochs if epochs is None else epochs,
                        r.learning_rate if learning_rate is None else learning_rate, r.batch_size, cfg.report_to,
                        r.gradient_accumulation_steps),
        max_length=cfg.model.max_length,
    )
    trainer = RewardTrainer(
        model=load_reward_model(init_dir, tokenizer),
        args=args,
        train_dataset=Dataset.from_list([layout.reward_row(row) if isinstance(row, PreferencePair)
                                         else layout.convert(row) for row in rows]),
        processing_class=tokenizer,
        peft_config=peft_config(cfg, "reward", "SEQ_CLS"),
    )
    metrics = train_and_save(trainer, tokenizer, out, {"train_accuracy": "accuracy"})
    if trainer.is_world_process_zero():
        _write_scoring(out, Scoring(str(init_dir if source is None else source), layout))
    return metrics


def continue_reward(cfg: RunConfig, rows: list[dict], rm_in: Path, rm_out: Path, tokenizer, *, epochs: float,
                    learning_rate: float, seed: int) -> dict:
    """The RM at `rm_in` trained further on toy `rows` into `rm_out`, reading as it always has: with its recorded
    layout and its own tokenizer (a chat layout, a `reward.pretrained` RM's tokenizer), or, for a folder without a
    record, the toy layout with `tokenizer`, the run's. The record passes on unchanged."""
    scoring = scoring_of(rm_in)
    if scoring is None:
        scoring = Scoring(str(rm_in), Layout.TOY)
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(rm_in)
    return train_reward(cfg, rows, rm_in, tokenizer, rm_out, layout=scoring.layout, source=scoring.source,
                        epochs=epochs, learning_rate=learning_rate, seed=seed)


def copy_pretrained_rm(source: str, out: Path) -> Layout:
    """A trained BT RM (`reward.pretrained`: a folder, e.g. the rm/ of `workbench rm train`, or a hub id) made the
    run's own: saved to `out` with its own tokenizer and scoring record, so the loop scores π0's samples the way it
    was trained, whatever π0's tokenizer. Its layout: the one it records (`scoring_of`), else `chat` when its
    tokenizer has a chat template (as hub RMs such as FsfairX-LLaMA3-RM do), else `toy`. Returns the layout."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from workbench.models.gguf import model_source

    source = model_source(source)  # a GGUF checkpoint: its imported folder
    own = AutoTokenizer.from_pretrained(source)
    ensure_pad_token(own)
    recorded = scoring_of(Path(source)) if Path(source).is_dir() else None
    layout = recorded.layout if recorded is not None else Layout.for_tokenizer(own)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype="auto")
    model.config.pad_token_id = own.pad_token_id
    model.save_pretrained(out)
    own.save_pretrained(out)
    _write_scoring(out, Scoring(source, layout))
    return layout


def score(model, tokenizer, prompts: list[str], responses: list[str], batch_size: int = 256) -> list[float]:
    """Reward of each (prompt, response), laid out as the RM was trained, where `prompt` is the policy's prompt,
    world.format_prompt(text): in the toy layout prompt + " " + response + eos; in the chat layout the prompt text
    as the user turn of the RM's template. An RM loaded with a scoring record reads with its own tokenizer."""
    if hasattr(model, "workbench_scoring"):
        tokenizer, layout = model.workbench_scoring
        if layout is Layout.CHAT:
            from workbench.world.toy import unformat_prompt

            return score_texts(model, tokenizer, [layout.text_for(tokenizer, unformat_prompt(p), r)
                                                  for p, r in zip(prompts, responses, strict=True)], batch_size)
    texts = [p + " " + r + tokenizer.eos_token for p, r in zip(prompts, responses, strict=True)]
    return score_texts(model, tokenizer, texts, batch_size)


def score_texts(model, tokenizer, texts: list[str], batch_size: int = 256) -> list[float]:
    """Reward of each text, laid out whole (special tokens included) as the RM was trained."""
    return batched_logits(model, tokenizer, texts, lambda logits, _: logits[:, 0].tolist(), batch_size, "score rm")

"""The Bradley-Terry reward model: π0 with a scalar head, trained with TRL's RewardTrainer on −log σ(r_c − r_r).

Training pairs are two samples of π0 for the same preference prompt, labelled by the simulated annotator
(annotator.py), so the RM inherits the annotator's noise and length bias, as a real RM inherits its labellers'.
"""

from __future__ import annotations

from pathlib import Path

from workbench.config import RunConfig
from workbench.data.layout import Layout
from workbench.models.lm import batched_logits, ensure_pad_token, peft_config, train_and_save, training_args

SCORING = "workbench_scoring.json"  # in an RM folder that reads its own way: its source and layout (Layout)


def mark_scoring(folder: Path, source: str, layout: Layout) -> None:
    """Record in an RM folder how it reads a (prompt, response): `load_reward_model` then attaches its own tokenizer
    and layout, and `score` lays every text out that way."""
    import json

    (folder / SCORING).write_text(json.dumps({"source": source, "layout": Layout(layout).value}))


def scoring_of(folder: Path) -> tuple[str, Layout] | None:
    """(source, layout) recorded by `mark_scoring` / `copy_pretrained_rm`, or None: a toy-layout RM."""
    import json

    if not (folder / SCORING).is_file():
        return None
    recorded = json.loads((folder / SCORING).read_text())
    return recorded["source"], Layout(recorded["layout"])


def load_reward_model(path: Path | str, tokenizer):
    """A `save_pretrained` folder (a Path, checked) or a hub id (a str), with a scalar head (new if it had none)."""
    from transformers import AutoModelForSequenceClassification

    if isinstance(path, Path) and not path.exists():
        raise FileNotFoundError(f"model folder {path} does not exist")
    from workbench.models.lm import device

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype="float32").to(device())
    scoring = scoring_of(path) if isinstance(path, Path) else None
    if scoring is not None:  # an RM with a recorded layout reads with its own tokenizer
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model.workbench_scoring = (tokenizer, scoring[1])
    # The head finds each sequence's last token by its pad id: it must be set, and differ from eos.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def train_reward(cfg: RunConfig, rows: list[dict], init_dir: Path, tokenizer, out: Path, *,
                 epochs: float | None = None, learning_rate: float | None = None, seed: int | None = None) -> dict:
    """Train on `rows` ({"prompt", "chosen", "rejected"}) starting from `init_dir`; save to `out`. `epochs`,
    `learning_rate` and `seed` default to the reward stage's (an online refresh passes its own)."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

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
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config(cfg, "reward", "SEQ_CLS"),
    )
    return train_and_save(trainer, tokenizer, out, {"train_accuracy": "accuracy"})


def copy_pretrained_rm(source: str, out: Path) -> str:
    """A trained BT RM (`reward.pretrained`: a folder, e.g. the rm/ of `workbench rm train`, or a hub id) made the
    run's own: saved to `out` with its own tokenizer and SCORING, which says how it reads a response, so the loop
    scores π0's samples the way it was trained, whatever π0's tokenizer. Its layout (layout.Layout): the one
    `rm train` recorded, else `chat` when its tokenizer has a chat template (as hub RMs such as FsfairX-LLaMA3-RM do),
    else `toy`. Returns the layout."""
    import json

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from workbench.models.gguf import model_source

    source = model_source(source)  # a GGUF checkpoint: its imported folder
    own = AutoTokenizer.from_pretrained(source)
    ensure_pad_token(own)
    report = Path(source).parent / "rm_train.json"  # written by `workbench rm train` next to rm/
    layout = json.loads(report.read_text())["layout"] if report.is_file() else Layout.for_tokenizer(own).value
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype="auto")
    model.config.pad_token_id = own.pad_token_id
    model.save_pretrained(out)
    own.save_pretrained(out)
    mark_scoring(out, source, layout)
    return layout


def score(model, tokenizer, prompts: list[str], responses: list[str], batch_size: int = 256) -> list[float]:
    """Reward of each (prompt, response), formatted exactly as in training: prompt + " " + response + eos, where
    `prompt` is the policy's prompt, world.format_prompt(text). An RM with a recorded layout (mark_scoring: a
    `reward.pretrained` RM, or the run's own RM trained from a chat π0) instead reads with its own tokenizer in that
    layout, e.g. the prompt text as the user turn of its chat template."""
    if hasattr(model, "workbench_scoring"):
        from workbench.world.toy import unformat_prompt

        tok, layout = model.workbench_scoring
        return score_texts(model, tok, [layout.text_for(tok, unformat_prompt(p), r)
                                        for p, r in zip(prompts, responses, strict=True)], batch_size)
    texts = [p + " " + r + tokenizer.eos_token for p, r in zip(prompts, responses, strict=True)]
    return score_texts(model, tokenizer, texts, batch_size)


def score_texts(model, tokenizer, texts: list[str], batch_size: int = 256) -> list[float]:
    """Reward of each text, laid out whole (special tokens included) as the RM was trained."""
    return batched_logits(model, tokenizer, texts, lambda logits, _: logits[:, 0].tolist(), batch_size, "score rm")

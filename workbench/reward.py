"""The Bradley-Terry reward model: π0 with a scalar head, trained with TRL's RewardTrainer on −log σ(r_c − r_r).

Training pairs are two samples of π0 for the same preference prompt, labelled by the simulated annotator
(annotator.py), so the RM inherits the annotator's noise and length bias, as a real RM inherits its labellers'.
"""

from __future__ import annotations

from pathlib import Path

from workbench.config import RunConfig
from workbench.model import batched_logits, train_and_save, training_args


def load_reward_model(path: Path | str, tokenizer):
    """A `save_pretrained` folder (a Path, checked) or a hub id (a str), with a scalar head (new if it had none)."""
    from transformers import AutoModelForSequenceClassification

    if isinstance(path, Path) and not path.exists():
        raise FileNotFoundError(f"model folder {path} does not exist")
    from workbench.model import device

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype="float32").to(device())
    # The head finds each sequence's last token by its pad id: it must be set, and differ from eos.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def train_reward(cfg: RunConfig, rows: list[dict], init_dir: Path, tokenizer, out: Path) -> dict:
    """Train on `rows` ({"prompt", "chosen", "rejected"}) starting from `init_dir`; save to `out`."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    r = cfg.reward
    args = RewardConfig(
        **training_args(cfg.seed, out / "trainer", r.epochs, r.learning_rate, r.batch_size, cfg.report_to,
                         r.gradient_accumulation_steps),
        max_length=cfg.model.max_length,
    )
    trainer = RewardTrainer(
        model=load_reward_model(init_dir, tokenizer),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    return train_and_save(trainer, tokenizer, out, {"train_accuracy": "accuracy"})


def copy_pretrained_rm(source: str, tokenizer, out: Path) -> None:
    """A trained BT RM (`reward.pretrained`: a folder, e.g. the rm/ of `workbench rm train`, or a hub id) made the
    run's own, saved to `out`, after checking the loop can score with it: the loop tokenizes with π0's tokenizer in
    the toy layout, "Q: {prompt}\\nA: {response}<eos>", so the RM must share that tokenizer and layout."""
    import json

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from workbench.config import ConfigError

    own = AutoTokenizer.from_pretrained(source)
    if own.get_vocab() != tokenizer.get_vocab():
        raise ConfigError(f"reward.pretrained {source}: its tokenizer's vocabulary differs from π0's; the loop scores π0's samples with π0's tokenizer, so the two must share one")
    report = Path(source).parent / "rm_train.json"  # written by `workbench rm train` next to rm/
    chat = json.loads(report.read_text())["layout"] == "chat" if report.is_file() else bool(own.chat_template)
    if chat:
        raise ConfigError(f"reward.pretrained {source}: it reads responses through a chat template, and a run scores "
                          "them as 'Q: {prompt}\\nA: {response}<eos>' (chat-template scoring in the loop is not wired "
                          "yet); train it with `workbench rm train` from a base whose tokenizer has no chat template")
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype="auto")
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def score(model, tokenizer, prompts: list[str], responses: list[str], batch_size: int = 256) -> list[float]:
    """Reward of each (prompt, response), formatted exactly as in training: prompt + " " + response + eos."""
    return score_texts(model, tokenizer, [p + " " + r + tokenizer.eos_token for p, r in zip(prompts, responses, strict=True)],
                       batch_size)


def score_texts(model, tokenizer, texts: list[str], batch_size: int = 256) -> list[float]:
    """Reward of each text, laid out whole (special tokens included) as the RM was trained."""
    return batched_logits(model, tokenizer, texts, lambda logits, _: logits[:, 0].tolist(), batch_size, "score rm")

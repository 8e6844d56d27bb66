"""The base model: the tiny Llama pretrained on what the world knows (world/knowledge.py), treated like a hub
checkpoint — built once, cached outside the run, reused by every run and experiment arm that matches.

    base, key, built = ensure_base(cfg, tokenizer_dir)   # the cached folder, its key, whether this call built it

A base is keyed by what determines it: the world seed, the model's size fields, the `pretrain.*` fields (not
`cache_dir`) and the bytes of the run's tokenizer (which the world stage trains from the world seed and the model's
vocabulary size). It is trained from a fresh model seeded by the world seed, so runs that differ only in their run
seed share it. Plain causal-LM loss on every token of each sentence (TRL's SFTTrainer on a "text" column). The
folder is written under a temporary name and renamed when complete, so a crashed or concurrent build never leaves a
half-written base that looks finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

from workbench.config import RunConfig
from workbench.models.lm import init_model, train_and_save, training_args
from workbench.world.knowledge import knowledge_corpus

RECORD = "base.json"  # in a base folder: its key and what it was built from; in a run's models/: which base it used


def cache_root(cfg: RunConfig) -> Path:
    """`pretrain.cache_dir`, else $WORKBENCH_BASE_CACHE (the test suite points it at one folder per test run), else
    $XDG_CACHE_HOME/workbench/base, else ~/.cache/workbench/base."""
    if cfg.pretrain.cache_dir:
        return Path(cfg.pretrain.cache_dir)
    if os.environ.get("WORKBENCH_BASE_CACHE"):
        return Path(os.environ["WORKBENCH_BASE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench" / "base"


def base_recipe(cfg: RunConfig, tokenizer_dir: Path) -> dict:
    """Everything the base depends on; its hash is the cache key."""
    model = {k: v for k, v in dataclasses.asdict(cfg.model).items() if k != "pretrained"}
    pretrain = {k: v for k, v in dataclasses.asdict(cfg.pretrain).items() if k not in ("enabled", "cache_dir")}
    tokenizer = hashlib.sha256((Path(tokenizer_dir) / "tokenizer.json").read_bytes()).hexdigest()
    return {"world_seed": cfg.world.seed, "model": model, "pretrain": pretrain, "tokenizer": tokenizer}


def base_key(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def build_base(cfg: RunConfig, tokenizer, out: Path) -> dict:
    """Pretrain a fresh tiny Llama (seeded by the world seed) on the knowledge corpus; save model and tokenizer to
    `out`; return the trainer's metrics."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from workbench.distributed import seed_everything
    from workbench.models.lm import load_policy

    seed, p = cfg.world.seed, cfg.pretrain
    seed_everything(seed, cfg.threads)
    init_model(tokenizer, cfg.model, seed, out / "init")
    rows = [{"text": s} for s in knowledge_corpus(p.sentences, seed)]
    args = SFTConfig(**training_args(seed, out / "trainer", p.epochs, p.learning_rate, p.batch_size, cfg.report_to),
                     max_length=cfg.model.max_length, dataset_text_field="text", packing=False,
                     completion_only_loss=False)
    trainer = SFTTrainer(model=load_policy(out / "init"), args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)
    metrics = train_and_save(trainer, tokenizer, out)
    shutil.rmtree(out / "init")
    shutil.rmtree(out / "trainer", ignore_errors=True)
    return metrics


def _complete(folder: Path) -> bool:
    """A finished base: its record and the model it describes."""
    return (folder / RECORD).is_file() and (folder / "config.json").is_file()


def ensure_base(cfg: RunConfig, tokenizer_dir: Path) -> tuple[Path, str, bool]:
    """(folder of the base model for `cfg`, its key, True when this call built it rather than found it cached)."""
    from transformers import AutoTokenizer

    recipe = base_recipe(cfg, tokenizer_dir)
    key = base_key(recipe)
    root = cache_root(cfg)
    final = root / key
    if _complete(final):
        return final, key, False
    tmp = root / f".{key}.{os.getpid()}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        metrics = build_base(cfg, AutoTokenizer.from_pretrained(tokenizer_dir), tmp)
        if not (tmp / "config.json").is_file():
            raise RuntimeError(f"{tmp}: the base model was not saved (a process that does not save, e.g. rank > 0?)")
        (tmp / RECORD).write_text(json.dumps({"key": key, "recipe": recipe, "metrics": metrics}, indent=1))
        try:
            tmp.rename(final)
        except OSError:  # another process finished the same base first: keep theirs
            if not _complete(final):
                raise
            shutil.rmtree(tmp)
            return final, key, False
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, key, True


def install_base(cfg: RunConfig, models_dir: Path) -> tuple[Path, bool]:
    """The base model for a run whose tokenizer is at `models_dir`/tokenizer, built or found in the cache
    (`ensure_base`), copied in as `models_dir`/init (under a temporary name, renamed when complete), with the
    run's RECORD of which base it used. Returns the cached base folder and whether this call built it."""
    base, key, built = ensure_base(cfg, models_dir / "tokenizer")
    init, tmp = models_dir / "init", models_dir / ".init.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp, ignore=shutil.ignore_patterns(RECORD))
    shutil.rmtree(init, ignore_errors=True)
    tmp.rename(init)
    (models_dir / RECORD).write_text(json.dumps({"path": str(base), "key": key, "built": built}))
    return base, built

"""The tiny policy: a BPE tokenizer trained on the world's corpus and a Llama-architecture model built from a config.

Both are saved with `save_pretrained`, so TRL, transformers and vLLM load them like any hub model; pointing the
same stages at a hub id runs a real model.
"""

from __future__ import annotations

from pathlib import Path

from workbench.config import ModelConfig

SPECIAL_TOKENS = ["<unk>", "<pad>", "<eos>"]


def train_tokenizer(texts: list[str], cfg: ModelConfig, out: Path):
    """Byte-level BPE with single-digit tokens (numbers stay readable to a tiny model); saved to `out`.

    The pad token is its own token: a reward model whose pad token equals eos finds the "last token" at the first
    eos and scores every sequence alike (RLHF-Reward-Modeling#49, trl#937).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>", padding_side="left"
    )
    fast.model_max_length = cfg.max_length
    fast.save_pretrained(out)
    return fast


def init_model(tokenizer, cfg: ModelConfig, seed: int, out: Path):
    """A randomly initialised LlamaForCausalLM sized by `cfg`; saved to `out`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_length,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    return model


def ensure_pad_token(tokenizer) -> None:
    """Hub tokenizers such as Llama-3's have no pad token; use eos, as TRL does.

    Safe for the BT RM here because transformers' sequence-classification head reads the *rightmost* non-pad token,
    so a trailing eos is skipped alike in training and scoring. (The old first-pad rule made every sequence score
    alike when pad == eos: RLHF-Reward-Modeling#49, trl#937; the toy tokenizer has a pad token of its own.)"""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def copy_pretrained(source: str, out: Path, with_model: bool = False):
    """A given model (a `save_pretrained` folder or a hub id) made the run's own: its tokenizer saved to `out`
    (with a pad token: eos where it has none, see ensure_pad_token) and, `with_model`, the model too, in
    its own dtype, so the run's folders hold everything the later stages load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.models.gguf import model_source

    source = model_source(source)  # a GGUF checkpoint: its imported folder
    tokenizer = AutoTokenizer.from_pretrained(source)
    ensure_pad_token(tokenizer)
    if with_model:
        model = AutoModelForCausalLM.from_pretrained(source, dtype="auto")
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return tokenizer


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def device() -> str:
    """Where inference runs: the GPU when there is one (the trainers place their models themselves)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_policy(path: Path | str):
    """A `save_pretrained` folder (a Path, checked) or a hub id (a str)."""
    from transformers import AutoModelForCausalLM

    if isinstance(path, Path) and not path.exists():
        raise FileNotFoundError(f"model folder {path} does not exist")
    return AutoModelForCausalLM.from_pretrained(path, dtype="float32").to(device())


def training_args(run_seed: int, out: Path, epochs: float, learning_rate: float, batch_size: int, report_to: list[str],
                  gradient_accumulation_steps: int = 1) -> dict:
    """Keyword arguments every TRL config here shares.

    TRL configs default to bf16 and gradient checkpointing, which the CPU does not want; `report_to` passes the
    run's choice (tensorboard, wandb, ...) through so curves show up where researchers already look.
    """
    import torch

    on_gpu = torch.cuda.is_available()
    return dict(
        output_dir=str(out),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        lr_scheduler_type="linear",
        warmup_steps=0,
        logging_steps=10,
        save_strategy="no",
        report_to=report_to or "none",
        seed=run_seed,
        data_seed=run_seed,
        use_cpu=not on_gpu,
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def peft_config(cfg, stage: str, task_type: str = "CAUSAL_LM"):
    """TRL's `peft_config` for a trainer of `stage` (dpo, reward, pm): a LoraConfig when `lora.r` > 0 and the stage is
    in `lora.stages`, else None (full fine-tuning). `task_type` SEQ_CLS (the BT RM) also trains the score head."""
    if not cfg.lora.applies(stage):
        return None
    from peft import LoraConfig

    lo = cfg.lora
    return LoraConfig(r=lo.r, lora_alpha=lo.alpha, lora_dropout=lo.dropout, target_modules=list(lo.target_modules),
                      task_type=task_type)


ADAPTER_DIR = "adapter"  # in a model folder trained with LoRA: the adapter alone (the folder holds it merged)


def train_and_save(trainer, tokenizer, out: Path, last_logged: dict[str, str] | None = None) -> dict:
    """Train, save the model and tokenizer to `out` (rank 0 alone under a multi-process launch), and return the
    trainer's final metrics plus, for each `{name: log key}` in `last_logged`, the last logged value of that key.
    A LoRA-trained model is saved merged (a plain folder), its adapter alone in `out`/adapter.
    Quiet unless verbose (console.py): a bar, no printed log dicts; the logs still reach log_history and report_to."""
    from workbench.console import quiet_trainer

    result = quiet_trainer(trainer).train()
    if hasattr(trainer.model, "merge_and_unload"):  # a PeftModel
        trainer.save_model(str(out / ADAPTER_DIR))
        if trainer.is_world_process_zero():
            trainer.accelerator.unwrap_model(trainer.model).merge_and_unload().save_pretrained(out)
    else:
        trainer.save_model(str(out))  # rank 0 only, the full (gathered) weights under ZeRO-3 / FSDP
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out)
    metrics = dict(result.metrics)
    for name, key in (last_logged or {}).items():
        logged = [h[key] for h in trainer.state.log_history if key in h]
        if logged:
            metrics[name] = logged[-1]
    return metrics


def batched_logits(model, tokenizer, texts: list[str], read, batch_size: int = 256, desc: str = "score") -> list:
    """`read(logits, encoding)` (a list) for every batch of `texts`, concatenated: no gradients, right padding and
    no special tokens added, as the texts were laid out in training."""
    import torch
    from tqdm.auto import tqdm

    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    out: list = []
    try:
        with torch.no_grad():
            for i in tqdm(range(0, len(texts), batch_size), desc=desc, leave=False):
                enc = tokenizer(texts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
                enc = enc.to(model.device)
                out += read(model(**enc).logits, enc)
    finally:
        tokenizer.padding_side = side
    return out

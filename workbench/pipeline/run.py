"""The whole pipeline on one config: world → base model → SFT → reward model → T iterations of DPO, each evaluated.

    workbench run --preset quick                      # the CLI
    Pipeline(load_config(preset="quick")).run()       # the same from Python, or one stage at a time:
    p = Pipeline(cfg); p.world(); p.pretrain(); p.sft(); p.reward(); p.evaluate(0)
    p.rollout(1); p.iteration(1); p.evaluate(1)

Every stage reads its inputs from the run folder (models) and the store (tables), seeds itself, and records
itself in the `stages` table once its outputs are written, so stages can run one at a time, in separate
processes, and a stopped run resumes at the first stage not yet recorded (`workbench run --resume RUN`).
Everything lands under <root>/<run_id>/ (see store.py); each finished stage prints one line with its wall time.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import yaml

from workbench import console
from workbench.config import RunConfig, from_dict, to_dict
from workbench.distributed import seed_everything
from workbench.loop import schedule
from workbench.pipeline.reuse import REWARD_KEYS, blocking_differences, prefix_differences, shared_stages
from workbench.records import Run, Stage
from workbench.store import RunStore, query

PER_ITERATION = ("rollout", "iteration", "evaluate")
def new_run_id(name: str) -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{name}-{uuid.uuid4().hex[:6]}"


class Pipeline:
    """One run: its config, its folder and store, and one method per stage."""

    def __init__(self, cfg: RunConfig, root: str | Path = "runs", run_id: str | None = None, log=print):
        from workbench.distributed import is_main_process

        self.cfg = cfg
        self.log = log
        self.store = RunStore(root, run_id or new_run_id(cfg.name))
        self.run_id = self.store.run_id
        # Under a multi-process launch (distributed.py) only rank 0 writes the store; the other ranks train.
        self.main_process = is_main_process()
        self.store.writes_enabled = self.main_process
        if self.main_process and not (self.store.dir / "config.yaml").exists():
            self.store.dir.mkdir(parents=True, exist_ok=True)
            self.store.write(
                [Run(self.run_id, datetime.now(), cfg.name, cfg.seed, cfg.world.seed, cfg.loop.iterations,
                     json.dumps(to_dict(cfg)))],
                "run",
            )
            tmp = self.store.dir / ".config.yaml.tmp"
            tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
            tmp.replace(self.store.dir / "config.yaml")
        self._world = None

    @classmethod
    def resume(cls, root: str | Path, run_id: str, log=print) -> "Pipeline":
        path = Path(root) / run_id / "config.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"no run {run_id!r} under {root} ({path} does not exist)")
        return cls(from_dict(RunConfig, yaml.safe_load(path.read_text())), root, run_id, log)

    @classmethod
    def fork(cls, base: "Pipeline", cfg: RunConfig, run_id: str | None = None, log=print) -> "Pipeline":
        """A new run that shares `base`'s π0, reward model and π0 evaluation instead of recomputing them.

        Allowed when `cfg` differs from the base's only in what comes after those stages (the loop, DPO,
        generation of rollouts, world.n_iter); the shared stages' rows are copied with the new run id. A fork that
        also differs in what only the reward stage and π0's evaluation read (`reuse.REWARD_KEYS`: annotator, judges,
        reward, eval) keeps `base`'s π0 and runs those two stages itself: its own reward model on its own labels.
        """
        differ = prefix_differences(cfg, base.cfg)
        blocking = blocking_differences(differ)
        if blocking:
            raise ValueError(f"cannot fork {base.run_id}: the config differs in {', '.join(blocking)}, which the "
                             f"shared stages depend on (a fork may differ in {', '.join(REWARD_KEYS)}: it then trains "
                             "its own reward model)")
        shared = shared_stages([stage for stage, t in base.plan() if t == 0], differ)
        missing = {(stage, 0) for stage in shared} - base.done()
        if missing:
            raise ValueError(f"cannot fork {base.run_id}: stages {sorted(missing)} have not finished")
        from workbench.models.pretrain import RECORD

        new = cls(cfg, base.store.root, run_id, log)
        for name in ("tokenizer", "init", "sft") + (() if differ else ("rm", "pm")):
            if base.store.model_dir(name).exists():
                shutil.copytree(base.store.model_dir(name), new.store.model_dir(name), dirs_exist_ok=True)
        if base.store.model_dir(RECORD).is_file():  # which cached base model the shared π0 started from
            shutil.copy(base.store.model_dir(RECORD), new.store.model_dir(RECORD))
        with new._stage("world", 0, 1):  # its own prompts: the loop's may differ in number
            new.store.write(new.get_world().prompts, "world")
        for stage in shared[1:]:
            new.store.copy_group(base.store, f"{stage}-000")
        if differ:
            log(f"[workbench] fork {new.run_id}: π0 from {base.run_id}; its own reward model ({', '.join(differ)} "
                "differ)")
        return new

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def done(self) -> set[tuple[str, int]]:
        """(stage, iteration) pairs already recorded for this run."""
        _, rows = query(self.store.root, "select stage, iteration from stages where run_id = ?", [self.run_id])
        return {(s, i) for s, i in rows}

    @contextmanager
    def _stage(self, name: str, iteration: int, offset: int):
        """Seed, time and commit one stage: its writes and its `stages` row become visible together at the end."""
        console.apply()
        seed_everything(self.cfg.seed * 1000 + offset, self.cfg.threads)
        start = time.perf_counter()
        if not self.main_process:  # rank > 0 of a multi-process launch: train, record nothing
            yield
            return
        with self.store.transaction(f"{name}-{iteration:03d}"):
            yield
            wall = time.perf_counter() - start
            self.store.write([Stage(self.run_id, name, iteration, wall, datetime.now())], "stage")
        label = f"{name} {iteration}" if name in PER_ITERATION else name
        self.log(f"[workbench] stage {label} done in {wall:.1f}s")

    def get_world(self):
        from workbench.world.toy import build_world

        if self._world is None:
            self._world = build_world(self.cfg.world, self.cfg.loop.iterations, self.run_id)
            if self.cfg.world.prompt_dataset:
                from workbench.data.sources import loop_prompt_texts
                from workbench.world.toy import with_loop_prompts

                self._world = with_loop_prompts(self._world, loop_prompt_texts(self.cfg))
        return self._world

    def tokenizer(self):
        from workbench.models.lm import load_tokenizer

        return load_tokenizer(self.store.model_dir("tokenizer"))

    def rm_dir(self, t: int = 0) -> Path:
        """The RM in use once iteration t is done (loop/schedule.py): the reward stage's (models/rm), or with
        loop.rm_refresh the one the last refresh up to iteration t made (models/rm_<k>)."""
        return self.store.model_dir(schedule.rm_after(self.cfg.loop, t))

    def reward_model(self, tokenizer, t: int = 0):
        """The RM in use after iteration t (rm_dir), loaded."""
        from workbench.models.reward import load_reward_model

        return load_reward_model(self.rm_dir(t), tokenizer)

    def policy_dir(self, t: int) -> Path:
        return self.store.policy_dir(t)

    # -- stages ------------------------------------------------------------------------------------------------

    def world(self) -> None:
        """Prompts for every split, the tokenizer trained on the world's corpus, the untrained tiny Llama (or, with
        `model.pretrained`, that model's tokenizer)."""
        from workbench.models import lm as model
        from workbench.world import toy as world

        with self._stage("world", 0, 1):
            w = self.get_world()
            if self.cfg.model.pretrained:
                model.copy_pretrained(self.cfg.model.pretrained, self.store.model_dir("tokenizer"))
            else:  # with a pretraining stage, the tokenizer also learns the words of the knowledge corpus
                texts = world.corpus(self.cfg.world) + self._knowledge()
                tokenizer = model.train_tokenizer(texts, self.cfg.model, self.store.model_dir("tokenizer"))
                model.init_model(tokenizer, self.cfg.model, self.cfg.seed, self.store.model_dir("init"))
            self.store.write(w.prompts, "world")

    @property
    def pretrains(self) -> bool:
        """Whether this run has a pretraining stage: `pretrain.enabled` and no `model.pretrained` (which skips it)."""
        return self.cfg.pretrain.enabled and not self.cfg.model.pretrained

    def _knowledge(self) -> list[str]:
        from workbench.world.knowledge import knowledge_corpus

        return knowledge_corpus(self.cfg.pretrain.sentences, self.cfg.world.seed) if self.pretrains else []

    def pretrain(self) -> None:
        """The base model (models/pretrain.py): built once per world seed, model and corpus into a cache outside the
        run, or found there; its weights become the run's models/init, which SFT starts from."""
        from workbench.distributed import world_size
        from workbench.models.pretrain import install_base

        if not self.pretrains:
            raise ValueError(f"run {self.run_id} has no pretrain stage: pretrain.enabled is false, or model.pretrained "
                             "is set")
        if world_size() > 1:  # one cache entry, one writer: a base is small enough for one process
            raise RuntimeError("the pretrain stage runs in one process: run `workbench stage pretrain` without a "
                               "launcher (later runs find the base in the cache)")
        with self._stage("pretrain", 0, 4):
            base, built = install_base(self.cfg, self.store.dir / "models")
            self.log(f"[workbench] base model {'built' if built else 'from cache'}: {base}")

    def sft(self) -> None:
        """π0: TRL SFTTrainer on the imperfect demonstrations, or `model.pretrained` as it is."""
        from workbench.models import lm as model
        from workbench.models import sft
        from workbench.world.demonstrations import demonstrations

        if self.pretrains and ("pretrain", 0) not in self.done():
            raise RuntimeError(f"run {self.run_id}: pretrain.enabled is true and the pretrain stage has not run: run "
                               "pretrain() before sft() (SFT starts from the base model)")
        with self._stage("sft", 0, 2):
            if self.cfg.model.pretrained:
                model.copy_pretrained(self.cfg.model.pretrained, self.store.model_dir("sft"), with_model=True)
                return
            demos = demonstrations(self.get_world().split("sft"), self.cfg.world, self.cfg.seed)
            sft.train_sft(self.cfg, demos, self.store.model_dir("init"), self.tokenizer(), self.store.model_dir("sft"))

    def reward(self) -> None:
        """The BT RM (and the PM) trained on the annotator's labels of a diverse mixture of candidate responses,
        measured on held-out pairs (reward_stage.py)."""
        from workbench.pipeline.reward_stage import reward_stage

        with self._stage("reward", 0, 3):
            reward_stage(self.cfg, self.store, self.get_world(), self.tokenizer(), self.log)

    def rollout(self, t: int) -> None:
        """Iteration t, first half: n samples per prompt from π_{t−1}, scored by the RM the schedule gives t (and
        refreshed first when t refreshes it), best vs worst kept (loop/iteration.py)."""
        from workbench.loop import iteration as loop
        from workbench.models.reward import load_reward_model

        with self._stage("rollout", t, 10 + t):
            tokenizer = self.tokenizer()
            pm = None
            if self.cfg.loop.oracle.needs_pm:
                from workbench.models.preference import load_pm

                pm = load_pm(self.store.model_dir("pm"))
            step = schedule.rm_step(self.cfg.loop, t)
            loop.rollout(self.cfg, self.store, self.get_world().split("iter", t), t, tokenizer,
                         load_reward_model(self.store.model_dir(step.serving), tokenizer), pm, step)

    def iteration(self, t: int) -> None:
        """Iteration t, second half: DPO on the rollout's pairs, π_{t−1} → π_t (loop/iteration.py), or a TRL peer
        from π0 (loop/peers.py)."""
        from workbench.loop import iteration as loop

        with self._stage("iteration", t, 100 + t):
            prompts = self.get_world().split("iter", t)
            if self.cfg.loop.algorithm.is_peer:
                from workbench.loop.peers import train_peer

                tokenizer = self.tokenizer()
                it = train_peer(self.cfg, self.store, prompts, tokenizer, self.reward_model(tokenizer))
            else:
                it = loop.train_iteration(self.cfg, self.store, t, self.tokenizer(), len(prompts))
            self.store.write([it], "iteration")

    def evaluate(self, t: int) -> None:
        """π_t on the eval and capability prompts; metrics against π0's eval responses, stored by evaluate(0)
        (evaluation/policy_eval.py)."""
        from workbench.evaluation.policy_eval import evaluate_policy

        with self._stage("evaluate", t, 500 + t):
            evaluate_policy(self.cfg, self.store, self.get_world(), t, self.tokenizer(), self.rm_dir(t))

    # -- the whole run -----------------------------------------------------------------------------------------

    def plan(self) -> list[tuple[str, int]]:
        steps = [("world", 0)] + [("pretrain", 0)] * self.pretrains + [("sft", 0), ("reward", 0), ("evaluate", 0)]
        for t in range(1, self.cfg.loop.iterations + 1):
            if not self.cfg.loop.algorithm.is_peer:
                steps.append(("rollout", t))
            steps += [("iteration", t), ("evaluate", t)]
        return steps

    def run(self) -> str:
        """Every stage not yet recorded, in order; returns the run id."""
        self.log(f"[workbench] run {self.run_id} → {self.store.dir}")
        finished = self.done()
        for name, t in self.plan():
            if (name, t) in finished:
                continue
            method = getattr(self, name)
            method(t) if name in PER_ITERATION else method()
        if ("done", self.cfg.loop.iterations) not in finished:
            with self.store.transaction("done"):
                self.store.write([Stage(self.run_id, "done", self.cfg.loop.iterations, 0.0, datetime.now())], "stage")
        return self.run_id


def main(cfg: RunConfig, root: str | Path = "runs", run_id: str | None = None, log=print) -> str:
    """Run the whole pipeline; returns the run id."""
    return Pipeline(cfg, root, run_id, log).run()

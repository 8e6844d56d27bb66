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
import random
import shutil
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import yaml

from workbench import console
from workbench.config import Algorithm, Reference, RunConfig, from_dict, to_dict
from workbench.data.layout import Layout, PolicyFormat, toy_row
from workbench.data.reward_sources import extra_reward_rows
from workbench.distributed import seed_everything
from workbench.evaluation.metrics import gold_preference, policy_metrics, rm_policy_accuracy
from workbench.loop.sampling import disjoint_pairs
from workbench.records import DataFilter, EvalRow, Iteration, Metric, Pair, Run, Stage
from workbench.store import RunStore, query
from workbench.world.annotator import label_pairs

PER_ITERATION = ("rollout", "iteration", "evaluate")
# config sections the stages before the loop read: runs that agree on them can share those stages (`fork`)
PREFIX_KEYS = ("seed", "world", "annotator", "model", "pretrain", "sft", "reward", "eval", "generation", "lora")
EVAL_SEED = 99_991  # the same sampling seed for every policy's eval responses (common random numbers)
DRIFT_SEED = 77_773  # the RM-drift samples' seed: a stream of its own, so the measure changes no other sample


def loop_prompt_texts(cfg: RunConfig) -> dict[int, list[str]]:
    """{t: the loop's prompts of iteration t} from `world.prompt_dataset`: with "{t}" in it, the first n_iter rows of
    the set it names for each t (RLHFlow's iter1-20K, iter2-20K, ...); without, rows (t − 1)·n_iter + 1 .. t·n_iter
    of the one set, so no prompt repeats across iterations."""
    from workbench.data.sources import load_prompts

    source, n, iterations = cfg.world.prompt_dataset, cfg.world.n_iter, range(1, cfg.loop.iterations + 1)
    if "{t}" in source:
        return {t: load_prompts(source.replace("{t}", str(t)), n) for t in iterations}
    every = load_prompts(source, n * len(iterations))
    return {t: every[(t - 1) * n : t * n] for t in iterations}


def prefix_differences(a: RunConfig, base: RunConfig) -> list[str]:
    """The config sections read by the stages before the loop (world, pretrain, SFT, reward, π0's evaluation) in
    which a run of `a` and one of `base` differ; [] when the first can share the second's stages. The loop's prompt
    count and the rollout's sample count and temperatures are the loop's, not the prefix's; a base that also trained
    the preference model serves a run that does not need it (the reward stage trains the BT RM first, so it is the
    same model either way)."""
    x, y = to_dict(a), to_dict(base)
    for d in (x, y):
        d["world"].pop("n_iter")
        d["generation"] = {k: d["generation"][k] for k in ("max_new_tokens", "top_p", "batch_size")}
    needs, has = (c.reward.train_pm or c.loop.oracle.needs_pm for c in (a, base))  # the reward stage trains a PM
    x["reward"]["train_pm"], y["reward"]["train_pm"] = needs or has, has
    return [k for k in PREFIX_KEYS if x[k] != y[k]]


def finished_run(root: str | Path, cfg: RunConfig, match_name: bool = True, newest: bool = False) -> str | None:
    """A finished run under `root` made from exactly `cfg` (with `match_name=False`, its name aside; the oldest, or
    the newest with `newest`), else None. Seeded runs on CPU repeat their metrics, so such a run stands for a new
    one (an experiment's arm that another experiment ran, a notebook's baseline); `threads` is part of the config,
    so a run on another thread count does not match."""
    root = Path(root)
    if not root.is_dir():
        return None

    def key(config: dict) -> dict:
        return config if match_name else {k: v for k, v in config.items() if k != "name"}

    want = key(json.loads(json.dumps(to_dict(cfg))))
    _, rows = query(root, "select r.run_id, r.config from runs r join stages s on s.run_id = r.run_id and "
                          f"s.stage = 'done' where r.seed = ? order by r.created_at {'desc' if newest else 'asc'}",
                    [cfg.seed])
    return next((run_id for run_id, config in rows if key(json.loads(config)) == want), None)


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
        generation of rollouts, world.n_iter); the shared stages' rows are copied with the new run id.
        """
        differ = prefix_differences(cfg, base.cfg)
        if differ:
            raise ValueError(f"cannot fork {base.run_id}: the config differs in {', '.join(differ)}, which the shared "
                             "stages depend on")
        prefix = [stage for stage, t in base.plan() if t == 0]  # world, [pretrain,] sft, reward, evaluate
        missing = {(stage, 0) for stage in prefix} - base.done()
        if missing:
            raise ValueError(f"cannot fork {base.run_id}: stages {sorted(missing)} have not finished")
        from workbench.models.pretrain import RECORD

        new = cls(cfg, base.store.root, run_id, log)
        for name in ("tokenizer", "init", "sft", "rm", "pm"):
            if base.store.model_dir(name).exists():
                shutil.copytree(base.store.model_dir(name), new.store.model_dir(name), dirs_exist_ok=True)
        if base.store.model_dir(RECORD).is_file():  # which cached base model the shared π0 started from
            shutil.copy(base.store.model_dir(RECORD), new.store.model_dir(RECORD))
        with new._stage("world", 0, 1):  # its own prompts: the loop's may differ in number
            new.store.write(new.get_world().prompts, "world")
        for stage in prefix[1:]:
            new.store.copy_group(base.store, f"{stage}-000")
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
                from workbench.world.toy import with_loop_prompts

                self._world = with_loop_prompts(self._world, loop_prompt_texts(self.cfg))
        return self._world

    def tokenizer(self):
        from workbench.models.lm import load_tokenizer

        return load_tokenizer(self.store.model_dir("tokenizer"))

    def rm_dir(self, t: int = 0) -> Path:
        """The RM in use once iteration t is done: the reward stage's (models/rm), or with loop.rm_refresh the one
        the last refresh up to iteration t made (models/rm_<k>)."""
        last = max((k for k in range(1, t + 1) if self.cfg.loop.refresh_budget(k)), default=0)
        return self.store.model_dir(f"rm_{last}" if last else "rm")

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
        from workbench.models.pretrain import RECORD, ensure_base

        if not self.pretrains:
            raise ValueError(f"run {self.run_id} has no pretrain stage: pretrain.enabled is false, or model.pretrained "
                             "is set")
        if world_size() > 1:  # one cache entry, one writer: a base is small enough for one process
            raise RuntimeError("the pretrain stage runs in one process: run `workbench stage pretrain` without a "
                               "launcher (later runs find the base in the cache)")
        with self._stage("pretrain", 0, 4):
            base, key, built = ensure_base(self.cfg, self.store.model_dir("tokenizer"))
            init, tmp = self.store.model_dir("init"), self.store.model_dir(".init.partial")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(base, tmp, ignore=shutil.ignore_patterns(RECORD))
            shutil.rmtree(init, ignore_errors=True)
            tmp.rename(init)
            (self.store.dir / "models" / RECORD).write_text(json.dumps({"path": str(base), "key": key, "built": built}))
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
        """2k candidate responses per preference prompt (reward_data.py), k pairs of them labelled by the annotator,
        the BT RM (and the PM) trained on those labels."""
        from workbench.models import reward
        from workbench.pipeline.reward_data import reward_candidates

        with self._stage("reward", 0, 3):
            cfg, store, tokenizer = self.cfg, self.store, self.tokenizer()
            if cfg.reward.pretrained:  # a trained RM instead of one trained here (loaded before any sampling);
                # the annotator's labels below still train the PM and feed the viewer
                layout = reward.copy_pretrained_rm(cfg.reward.pretrained, store.model_dir("rm"))
                self.log(f"[workbench] reward model: {cfg.reward.pretrained} ({layout} layout)")
            prompts = self.get_world().split("pref")
            k = cfg.reward.pairs_per_prompt
            # π0's samples, demonstrations, perturbed answers (reward.source, reward.mix; pipeline/reward_data.py)
            scored = reward_candidates(cfg, prompts, self.policy_dir(0), tokenizer, seed=cfg.seed * 1000 + 500)
            g = scored.generations
            labelled = label_pairs(random.Random(cfg.seed * 1000 + 7), [x.text for x in g], [x.n_chars for x in g],
                                   scored.gold, disjoint_pairs(len(prompts), k), cfg.annotator)
            pairs = [Pair(self.run_id, f"rm-{prompts[i].prompt_id}-{j}", 0, prompts[i].prompt_id, g[c].generation_id,
                          g[r].generation_id, 1.0, 0.0, 1.0, "annotator", "annotator")
                     for i, j, c, r in labelled.labels]
            rows = [toy_row(prompts[i].text, g[c].text, g[r].text) for i, _, c, r in labelled.labels]
            store.write(scored.generations, "pref")
            store.write(scored.score_rows(self.run_id), "pref")
            store.write(pairs, "rm-train")
            # human labels from the viewer, preference files (reward.extra_pairs), a dataset in place of the labels
            dataset = [cfg.reward.dataset] if cfg.reward.dataset else []
            extra, report = extra_reward_rows(cfg.reward.extra_pairs + dataset, store.root, self.run_id)
            annotator = [DataFilter(self.run_id, "run", "toy-annotator", "toy", "identical", labelled.identical),
                         DataFilter(self.run_id, "run", "toy-annotator", "toy", "kept", len(rows))]
            if dataset:  # drawn and stored (viewer, agreement), not trained on
                annotator.append(
                    DataFilter(self.run_id, "run", "toy-annotator", "toy", "replaced_by_dataset", len(rows)))
                rows = []
            store.write([*annotator, *report], "rm-train")
            rows += extra
            if not rows:
                why = ("reward.dataset and reward.extra_pairs kept no pairs" if dataset
                       else "π0's samples for the preference prompts are all identical in pairs")
                raise RuntimeError(f"no reward-model data: {why}")
            if not cfg.reward.pretrained:
                # π0's chat template when it has one (a pretrained instruct π0): the RM reads what the policy writes
                layout = Layout.for_tokenizer(tokenizer)
                metrics = reward.train_reward(cfg, [layout.convert(r) for r in rows], self.policy_dir(0), tokenizer,
                                              store.model_dir("rm"))
                if layout is Layout.CHAT:
                    reward.mark_scoring(store.model_dir("rm"), str(self.policy_dir(0)), layout)
            pm = None
            if cfg.reward.train_pm or cfg.loop.oracle.needs_pm:
                from workbench.models.preference import load_pm, train_pm

                train_pm(cfg, rows, self.policy_dir(0), tokenizer, store.model_dir("pm"))
                pm = load_pm(store.model_dir("pm"))
            # both models' accuracy by section on gold-labelled held-out pairs (the `rm_eval` table)
            from workbench.evaluation import rm_eval

            held_out = rm_eval.toy_pairs_for_run(cfg, self.get_world().split("eval"), self.policy_dir(0), tokenizer)
            bt = reward.load_reward_model(store.model_dir("rm"), tokenizer)
            store.write(rm_eval.evaluate_heldout(self.run_id, held_out, tokenizer, bt, pm), "rm-eval-" + rm_eval.HELDOUT)
            out = {
                "annotator_gold_agreement": labelled.gold_agreement,
                "annotator_prefers_longer": labelled.prefers_longer,
            }
            if not cfg.reward.pretrained:
                out["rm_train_pairs"] = float(len(rows))
            if not cfg.reward.pretrained and "train_accuracy" in metrics:
                out["rm_train_accuracy"] = float(metrics["train_accuracy"])
            store.write([Metric(self.run_id, 0, name, v) for name, v in out.items()], "reward-metrics")

    def rollout(self, t: int) -> None:
        """Iteration t, first half: n samples per prompt from π_{t−1}, scored, best vs worst kept (loop.py)."""
        from workbench.loop import iteration as loop

        with self._stage("rollout", t, 10 + t):
            tokenizer = self.tokenizer()
            pm = None
            if self.cfg.loop.oracle.needs_pm:
                from workbench.models.preference import load_pm

                pm = load_pm(self.store.model_dir("pm"))
            loop.rollout(self.cfg, self.store, self.get_world().split("iter", t), t, tokenizer,
                         self.reward_model(tokenizer, t - 1), pm, rm_dirs=(self.rm_dir(t - 1), self.rm_dir(t)))

    def iteration(self, t: int) -> None:
        """Iteration t, second half: DPO on the rollout's pairs, π_{t−1} → π_t (loop.py)."""
        from workbench.loop import iteration as loop

        with self._stage("iteration", t, 100 + t):
            prompts = self.get_world().split("iter", t)
            if self.cfg.loop.algorithm.is_peer:
                it = self._peer(prompts)
            else:
                it = loop.train_iteration(self.cfg, self.store, t, self.tokenizer(), len(prompts))
            self.store.write([it], "iteration")

    def _peer(self, prompts) -> Iteration:
        """A TRL peer instead of our loop, from π0 on the iteration-1 prompts (online_dpo.py)."""
        from workbench.loop.peers import train_online_dpo, train_rloo
        from workbench.world.toy import format_prompt

        tokenizer = self.tokenizer()
        out, texts, seed = self.policy_dir(1), [format_prompt(p.text) for p in prompts], self.cfg.seed * 1000 + 1
        rloo = self.cfg.loop.algorithm is Algorithm.TRL_RLOO
        if rloo:
            metrics = train_rloo(self.cfg, texts, self.policy_dir(0), self.reward_model(tokenizer), tokenizer, out,
                                 seed=seed)
        else:
            metrics = train_online_dpo(self.cfg, texts, self.policy_dir(0), self.policy_dir(0),
                                       self.reward_model(tokenizer), tokenizer, out, seed=seed)
        n = min(len(prompts), int(metrics["prompts_seen"]))  # prompts it reached within the budget
        samples, pairs = (n * self.cfg.generation.n, 0) if rloo else (2 * n, n)  # RLOO scores samples, makes no pairs
        return Iteration(self.run_id, 1, str(out.relative_to(self.store.dir)), Reference.INITIAL.value, n, samples,
                         pairs, 0)

    def evaluate(self, t: int) -> None:
        """π_t on the eval and capability prompts; metrics against π0's eval responses (stored by evaluate(0))."""
        from workbench.loop import iteration as loop
        from workbench.loop.generation import response_logprobs
        from workbench.models import lm as model

        with self._stage("evaluate", t, 500 + t):
            cfg, store = self.cfg, self.store
            tokenizer = self.tokenizer()
            policy = model.load_policy(self.policy_dir(t))
            w = self.get_world()
            prompts = w.split("eval")
            sample = dict(n=1, temperatures=[cfg.eval.temperature], max_new_tokens=cfg.eval.max_new_tokens, seed=EVAL_SEED)
            rm = self.reward_model(tokenizer, t)
            scored = loop.sample_and_score(
                cfg, self.policy_dir(t), tokenizer, rm, prompts, iteration=t, purpose="eval",
                **sample,
            )
            capability = loop.sample_and_score(
                cfg, self.policy_dir(t), tokenizer, None, w.split("capability"), iteration=t, purpose="capability",
                **sample,
            )
            if t == 0:
                base_gens, base_gold = scored.generations, scored.gold
            else:
                base_gens, base_gold = self._baseline(prompts)
            policy_format = PolicyFormat.of(tokenizer)
            texts = [policy_format.prompt(p.text) for p in prompts]
            responses = [g.text for g in scored.generations]
            pol_lp = response_logprobs(policy, tokenizer, texts, responses, cfg.eval.temperature)
            ref_lp = pol_lp if t == 0 else response_logprobs(
                model.load_policy(self.policy_dir(0)), tokenizer, texts, responses, cfg.eval.temperature
            )
            pi0_capability = None  # the alignment tax is measured against π0's capability
            if t:
                _, rows = query(store.root, "select value from metrics where run_id = ? and iteration = 0 and "
                                            "name = 'capability'", [self.run_id])
                pi0_capability = rows[0][0]
            metrics, annot = policy_metrics(prompts, scored, base_gens, base_gold, pol_lp, ref_lp, capability.gold,
                                            cfg.annotator, capability_at_pi0=pi0_capability)
            evals = [
                EvalRow(self.run_id, t, p.prompt_id, p.section, f"pi_{t}", "pi_0", g.generation_id, b.generation_id,
                        g.n_chars, b.n_chars, u, ub, gold_preference(u, ub), a, lp, rp)
                for p, g, b, u, ub, a, lp, rp in zip(prompts, scored.generations, base_gens, scored.gold, base_gold,
                                                      annot, pol_lp, ref_lp)
            ]
            drift = self._drift(t, tokenizer, rm, prompts)
            if drift is not None:
                section = {p.prompt_id: p.section for p in prompts}
                ids = [g.prompt_id for g in drift.generations]
                metrics.update(rm_policy_accuracy([section[i] for i in ids], ids, drift.gold, drift.rm))
            seg = f"eval-{t:03d}"
            extra = [] if drift is None else drift.generations
            store.write(scored.generations + capability.generations + extra, seg)
            store.write(scored.score_rows(self.run_id) + capability.score_rows(self.run_id)
                        + ([] if drift is None else drift.score_rows(self.run_id)), seg)
            store.write(evals, seg)
            store.write([Metric(self.run_id, t, k, v) for k, v in metrics.items()], seg)

    def _drift(self, t: int, tokenizer, rm, prompts):
        """π_t's `eval.drift_samples` samples per eval prompt at the rollout's temperatures (purpose `drift`), scored
        by the RM in use and the gold oracle: the pairs `rm_policy_accuracy` is measured on. None when off."""
        from workbench.loop import iteration as loop

        cfg = self.cfg
        if not cfg.eval.drift_samples:
            return None
        return loop.sample_and_score(
            cfg, self.policy_dir(t), tokenizer, rm, prompts, iteration=t, purpose="drift",
            n=cfg.eval.drift_samples, temperatures=cfg.generation.temperatures,
            max_new_tokens=cfg.generation.max_new_tokens, seed=DRIFT_SEED + t,
        )

    def _baseline(self, prompts):
        """π0's stored eval responses and their gold utilities, in the order of `prompts`."""
        import dataclasses

        from workbench.records import Generation

        cols = [f"g.{f.name}" for f in dataclasses.fields(Generation)]
        _, rows = query(
            self.store.root,
            f"select {', '.join(cols)}, s.value from generations g join scores s using (run_id, generation_id) "
            "where g.run_id = ? and g.purpose = 'eval' and g.iteration = 0 and s.scorer = 'gold'",
            [self.run_id],
        )
        by_prompt = {r[2]: (Generation(*r[:-1]), r[-1]) for r in rows}
        missing = [p.prompt_id for p in prompts if p.prompt_id not in by_prompt]
        if missing:
            raise RuntimeError(f"run {self.run_id}: π0's eval responses are missing ({len(missing)} prompts); "
                               "run evaluate(0) first")
        return [by_prompt[p.prompt_id][0] for p in prompts], [by_prompt[p.prompt_id][1] for p in prompts]

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

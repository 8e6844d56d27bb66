"""The toy preference world: prompt families whose true utility is known.

Each family makes prompts from a seeded RNG, knows the ideal response, scores any response with a gold utility
(the oracle the evaluation trusts), and writes imperfect demonstrations for SFT (wrong or off-topic with
`demo_error_rate`, padded with filler with `demo_verbose_rate`), so π0 leaves headroom.

Families (the world card in the README says the same):
- reasoning / `addition` (a, b in 1..9): "Q: What is 7 plus 5?" ideal "12." Utility 1 for the right number, 0 otherwise.
- chat / `topic`: "Q: Tell me about tea." ideal "Tea is hot and calm." Utility 0.5 for naming the topic, +0.25 for
  each of its two attributes, −0.5 when another topic is named.
Both subtract 0.005 per character beyond the ideal response's length: filler costs a little true utility, while
the simulated annotator (annotator.py) is paid for it through its length bias.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass

from workbench.config import WorldConfig
from workbench.records import Prompt

VERBOSITY_PENALTY = 0.005  # gold utility per character beyond the ideal length

FILLERS = (
    "Let me think about this carefully. ",
    "Great question! ",
    "Sure, here is my answer. ",
    "I am happy to help with that. ",
)
CLOSINGS = (" I hope this helps.", " Let me know if you need more.", " Thanks for asking!")


def format_prompt(text: str) -> str:
    """The prompt string the policy sees; the response follows after a space."""
    return f"Q: {text}\nA:"


def _pad(rng: random.Random, response: str) -> str:
    return rng.choice(FILLERS) + response + rng.choice(CLOSINGS)


def _verbosity(response: str, reference: str) -> float:
    return VERBOSITY_PENALTY * max(0, len(response.strip()) - len(reference))


class Addition:
    name, section = "addition", "reasoning"
    templates = ("What is {a} plus {b}?", "Add {a} and {b}.", "Compute {a} + {b}.")

    def sample(self, rng: random.Random) -> tuple[str, dict]:
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        return rng.choice(self.templates).format(a=a, b=b), {"a": a, "b": b}

    def reference(self, meta: dict) -> str:
        return f"{meta['a'] + meta['b']}."

    def gold(self, meta: dict, response: str) -> float:
        numbers = [int(tok) for tok in _digits(response)]
        correct = bool(numbers) and numbers[-1] == meta["a"] + meta["b"]
        return float(correct) - _verbosity(response, self.reference(meta))

    def demonstration(self, meta: dict, rng: random.Random, cfg: WorldConfig) -> str:
        answer = meta["a"] + meta["b"]
        if rng.random() < cfg.demo_error_rate:
            answer += rng.choice([-10, -2, -1, 1, 2, 10])
        text = f"{answer}."
        return _pad(rng, text) if rng.random() < cfg.demo_verbose_rate else text


TOPICS = {
    "tea": ("hot", "calm"),
    "rain": ("wet", "cold"),
    "music": ("loud", "fun"),
    "cats": ("soft", "curious"),
    "books": ("long", "wise"),
    "snow": ("white", "quiet"),
    "coffee": ("bitter", "strong"),
    "dogs": ("loyal", "happy"),
    "the sea": ("deep", "blue"),
    "fire": ("bright", "warm"),
    "bread": ("fresh", "simple"),
    "stars": ("far", "old"),
}


class Topic:
    name, section = "topic", "chat"
    templates = ("Tell me about {t}.", "Describe {t}.", "What do you think of {t}?")

    def sample(self, rng: random.Random) -> tuple[str, dict]:
        topic = rng.choice(sorted(TOPICS))
        return rng.choice(self.templates).format(t=topic), {"topic": topic}

    def reference(self, meta: dict) -> str:
        topic = meta["topic"]
        first, second = TOPICS[topic]
        verb = "are" if topic.endswith("s") else "is"
        return f"{topic[0].upper() + topic[1:]} {verb} {first} and {second}."

    def gold(self, meta: dict, response: str) -> float:
        words = set(_words(response))
        topic = meta["topic"]
        u = 0.5 * _names(topic, words) + 0.25 * sum(adj in words for adj in TOPICS[topic])
        if any(_names(other, words) for other in TOPICS if other != topic):
            u -= 0.5
        return u - _verbosity(response, self.reference(meta))

    def demonstration(self, meta: dict, rng: random.Random, cfg: WorldConfig) -> str:
        topic = meta["topic"]
        if rng.random() < cfg.demo_error_rate:  # talks about something else, or with the wrong attributes
            topic = rng.choice(sorted(TOPICS))
            text = self.reference({"topic": topic})
            if rng.random() < 0.5:
                text = text.replace(TOPICS[topic][0], rng.choice(["nice", "good", "big"]))
        else:
            text = self.reference(meta)
        return _pad(rng, text) if rng.random() < cfg.demo_verbose_rate else text


def _digits(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        if ch.isdigit():
            cur += ch
        elif cur:
            out.append(cur)
            cur = ""
    return out + [cur] if cur else out


def _words(text: str) -> list[str]:
    return "".join(ch.lower() if ch.isalpha() else " " for ch in text).split()


def _names(topic: str, words: set[str]) -> bool:
    return topic.split()[-1] in words


FAMILIES = {f.name: f for f in (Addition(), Topic())}
SPLITS = ("sft", "pref", "iter", "eval")


@dataclass
class World:
    """All prompts of a run, by split, made from the world seed."""

    run_id: str
    prompts: list[Prompt]

    def split(self, name: str, iteration: int = 0) -> list[Prompt]:
        return [p for p in self.prompts if p.split == name and (name != "iter" or p.iteration == iteration)]


def build_world(cfg: WorldConfig, iterations: int, run_id: str) -> World:
    """Prompts for every split; families alternate so each split holds them in equal shares."""
    rng = random.Random(cfg.seed)
    families = list(FAMILIES.values())
    plan = [("sft", 0, cfg.n_sft), ("pref", 0, cfg.n_pref)]
    plan += [("iter", t, cfg.n_iter) for t in range(1, iterations + 1)]
    plan += [("eval", 0, cfg.n_eval)]
    prompts = []
    for split, iteration, count in plan:
        for i in range(count):
            family = families[i % len(families)]
            text, meta = family.sample(rng)
            tag = f"{split}{iteration}" if split == "iter" else split
            prompts.append(
                Prompt(
                    run_id=run_id,
                    prompt_id=f"{tag}-{i:06d}",
                    split=split,
                    iteration=iteration,
                    section=family.section,
                    family=family.name,
                    text=text,
                    meta=json.dumps(meta, sort_keys=True),
                    reference=family.reference(meta),
                )
            )
    return World(run_id=run_id, prompts=prompts)


def gold_utility(prompt: Prompt, response: str) -> float:
    """The gold oracle: true utility of `response` to `prompt` (see the module docstring for each family)."""
    return FAMILIES[prompt.family].gold(json.loads(prompt.meta), response)


def demonstrations(prompts: list[Prompt], cfg: WorldConfig, seed: int) -> list[dict]:
    """Imperfect SFT data as TRL prompt-completion rows."""
    rng = random.Random(seed)
    rows = []
    for p in prompts:
        response = FAMILIES[p.family].demonstration(json.loads(p.meta), rng, cfg)
        rows.append({"prompt": format_prompt(p.text), "completion": " " + response})
    return rows


def corpus(cfg: WorldConfig) -> list[str]:
    """Every string the world can produce, for training the tokenizer."""
    rng = random.Random(cfg.seed + 1)
    texts = list(FILLERS) + list(CLOSINGS) + [format_prompt("")]
    wide = dataclasses.replace(cfg, demo_error_rate=0.5, demo_verbose_rate=0.5)
    for family in FAMILIES.values():
        for _ in range(2000):
            text, meta = family.sample(rng)
            texts += [format_prompt(text), family.reference(meta), family.demonstration(meta, rng, wide)]
    return texts

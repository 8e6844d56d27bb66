"""Perturbed answers: the reference response of a preference prompt, changed the way real answers go wrong.

The paper's reward models train on a large, diverse, off-policy mixture: responses of many models, good and bad,
and (UltraInteract) correct and incorrect answers to the same problem. In the toy world that diversity comes from
three sources (`pipeline/reward_stage.py`): π0's samples, the world's imperfect demonstrations, and these
perturbations of the ideal answer, each made in the framing (filler opening and closing) of another candidate it is
then paired with — `padded` one time in five, else one of its family's content kinds, drawn uniformly:

- reasoning (`addition`): `wrong_number` (off by 1, 2 or 10), `padded` (right, wrapped in filler);
- chat (`topic`): `other_topic`, `one_attribute` (the topic with one of its two attributes), `wrong_attribute`
  (an attribute swapped for a vague word), `padded`;
- chat-hard (`listing`): `one_more` and `one_fewer` item than asked, `stray_item` (one from another category),
  `padded`;
- safety (`safety`): a harmful request `complied` with or a `padded` refusal; its benign look-alike `refused` or
  answered `vaguely` (without naming the object), or `padded`.

The gold utility grades them as any response (`toy.gold_utility`); `padded` keeps the content and costs a little
utility for its length, which the length-biased annotator pays for instead.
"""

from __future__ import annotations

import random

from workbench.world.toy import CATEGORIES, CLOSINGS, FILLERS, REFUSAL, TOPICS, VAGUE, pad


def _wrong_number(meta: dict, reference: str, rng: random.Random) -> str:
    right = meta["a"] + meta["b"]
    wrong = right + rng.choice([-10, -2, -1, 1, 2, 10])
    return f"{wrong if wrong > 0 else right + 1}."


def _other_topic(meta: dict, reference: str, rng: random.Random) -> str:
    topic = rng.choice([t for t in sorted(TOPICS) if t != meta["topic"]])
    first, second = TOPICS[topic]
    verb = "are" if topic.endswith("s") else "is"
    return f"{topic[0].upper() + topic[1:]} {verb} {first} and {second}."


def _one_attribute(meta: dict, reference: str, rng: random.Random) -> str:
    dropped = rng.choice(TOPICS[meta["topic"]])
    return reference.replace(f" and {dropped}", "").replace(f"{dropped} and ", "")


def _wrong_attribute(meta: dict, reference: str, rng: random.Random) -> str:
    return reference.replace(rng.choice(TOPICS[meta["topic"]]), rng.choice(["nice", "good", "big"]))


def _items(meta: dict, count: int, rng: random.Random) -> list[str]:
    items = list(CATEGORIES[meta["category"]])
    rng.shuffle(items)
    return items[:count]


def _one_more(meta: dict, reference: str, rng: random.Random) -> str:
    return ", ".join(_items(meta, meta["k"] + 1, rng)) + "."


def _one_fewer(meta: dict, reference: str, rng: random.Random) -> str:
    return ", ".join(_items(meta, meta["k"] - 1, rng)) + "."


def _stray_item(meta: dict, reference: str, rng: random.Random) -> str:
    other = rng.choice([c for c in sorted(CATEGORIES) if c != meta["category"]])
    return ", ".join(_items(meta, meta["k"] - 1, rng) + [rng.choice(CATEGORIES[other])]) + "."


def _complied(meta: dict, reference: str, rng: random.Random) -> str:
    return f"First find a {meta['object']} and take it."


def _refused(meta: dict, reference: str, rng: random.Random) -> str:
    return REFUSAL


def _vaguely(meta: dict, reference: str, rng: random.Random) -> str:
    return rng.choice(VAGUE)


def _padded(meta: dict, reference: str, rng: random.Random) -> str:
    return pad(rng, reference)


KINDS = {
    "addition": {"wrong_number": _wrong_number, "padded": _padded},
    "topic": {"other_topic": _other_topic, "one_attribute": _one_attribute, "wrong_attribute": _wrong_attribute,
              "padded": _padded},
    "listing": {"one_more": _one_more, "one_fewer": _one_fewer, "stray_item": _stray_item, "padded": _padded},
    "safety/harmful": {"complied": _complied, "padded": _padded},
    "safety/benign": {"refused": _refused, "vaguely": _vaguely, "padded": _padded},
}


def kinds(family: str, meta: dict) -> dict:
    """The perturbations that apply to a prompt of `family` with `meta` (safety: by whether it is harmful)."""
    if family == "safety":
        family += "/harmful" if meta["harmful"] else "/benign"
    if family not in KINDS:
        raise ValueError(f"no perturbations for family {family!r} (known: {', '.join(sorted(KINDS))})")
    return KINDS[family]


PADDED_SHARE = 0.2  # of perturbations: `padded`; the rest change the content, one kind drawn uniformly


def frame(text: str) -> tuple[str, str]:
    """The filler opening and closing `text` is wrapped in (toy.pad's), each "" when absent."""
    return (next((f for f in FILLERS if text.startswith(f)), ""), next((c for c in CLOSINGS if text.endswith(c)), ""))


def perturb(family: str, meta: dict, reference: str, rng: random.Random, like: str = "") -> tuple[str, str]:
    """(kind, text): the reference answer perturbed — `padded` with probability PADDED_SHARE, else one of the
    family's content kinds drawn uniformly — in the framing of `like` (its filler opening and closing, if any), so
    that `like` and the result differ in content alone when `like` is right: a minimal pair, as UltraInteract's
    correct and incorrect steps of one problem are."""
    options = kinds(family, meta)
    content = sorted(k for k in options if k != "padded")
    kind = "padded" if rng.random() < PADDED_SHARE else rng.choice(content)
    text = options[kind](meta, reference, rng)
    if kind != "padded":
        opening, closing = frame(like)
        text = opening + text + closing
    return kind, text

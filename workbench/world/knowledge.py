"""What the world knows, written as plain sentences: the corpus a base model is pretrained on (models/pretrain.py).

The paper's reward models and policy start from a pretrained LM that already knows arithmetic, lists and what is
harmful; instruction tuning then teaches the answer format. This corpus gives the tiny Llama that knowledge the same
way: facts stated as a text corpus states them — sums, each topic with its attributes, the members of each listing
category and how many there are, counting, which requests are harmful and which are their benign look-alikes —
never in the demonstrations' "Q: … A:" layout and never graded, so SFT still has the format to teach and the
demonstrations' errors still leave headroom.
"""

from __future__ import annotations

import random

from workbench.world.toy import BENIGN, CATEGORIES, HARMFUL, OBJECTS, REFUSAL, TOPICS

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _sums(rng: random.Random) -> str:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    return rng.choice((f"{a} plus {b} is {a + b}.", f"{a} + {b} = {a + b}.", f"Adding {a} and {b} gives {a + b}.",
                       f"The sum of {a} and {b} is {a + b}.", f"If you add {b} to {a} you get {a + b}."))


def _counting(rng: random.Random) -> str:
    n = rng.randint(0, 97)
    return rng.choice((f"After {n} comes {n + 1}.", f"{n} is followed by {n + 1}.",
                       f"Counting up: {n}, {n + 1}, {n + 2}.", f"The number after {n} is {n + 1}.",
                       f"{n + 1} is one more than {n}."))


def _topics(rng: random.Random) -> str:
    topic = rng.choice(sorted(TOPICS))
    first, second = TOPICS[topic]
    name = topic[0].upper() + topic[1:]
    verb = "are" if topic.endswith("s") else "is"
    return rng.choice((f"{name} {verb} {first} and {second}.", f"{name} {verb} {first}.", f"{name} {verb} {second}.",
                       f"People say {topic} {verb} {second} and {first}.",
                       f"When you think of {topic}, think {first} and {second}."))


def _listings(rng: random.Random) -> str:
    category = rng.choice(sorted(CATEGORIES))
    items = list(CATEGORIES[category])
    item = rng.choice(items)
    k = rng.randint(2, 4)
    some = rng.sample(items, k)
    article = "An" if item[0] in "aeiou" else "A"
    listed = ", ".join(some)
    return rng.choice((f"{article} {item} is one of the {category}.", f"The {category} are {', '.join(items)}.",
                       f"{k} {category}: {listed}.", f"Here are {NUMBER_WORDS[k]} {category}: {listed}.",
                       f"{listed}: that makes {k} {category}."))


def _safety(rng: random.Random) -> str:
    obj = rng.choice(OBJECTS)
    harmful = rng.choice(HARMFUL).format(o=obj)
    benign = rng.choice(BENIGN).format(o=obj)
    return rng.choice((f'"{harmful}" is a harmful request: it asks for help with a crime.',
                       f'"{benign}" is a harmless request.',
                       f"Taking someone else's {obj} is stealing, and stealing is wrong.",
                       f"A repair shop can fix a broken {obj}.",
                       f'To a harmful request a good assistant says "{REFUSAL}"',
                       f"Refusing a harmless request such as how to fix a {obj} is unhelpful."))


WRITERS = (_sums, _counting, _topics, _listings, _safety)


def knowledge_corpus(n: int, seed: int) -> list[str]:
    """`n` sentences of the world's knowledge, the five kinds in turn, drawn from a generator seeded by `seed`."""
    rng = random.Random(f"knowledge/{seed}")
    return [WRITERS[i % len(WRITERS)](rng) for i in range(n)]

"""What every sampler returns and takes: the sample record, the temperature schedule, the generator interface.

The HF backend is generation.py, the vLLM one vllm_generation.py; both import this module, and generation.py's
`get_generator` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol


@dataclass
class Sample:
    prompt_index: int
    sample_index: int
    temperature: float
    text: str
    n_tokens: int


def sample_temperatures(n: int, temperatures: list[float]) -> list[float]:
    """The temperature of each of the n samples: contiguous, equal groups in list order."""
    per = n // len(temperatures)
    return [temperatures[i // per] for i in range(n)]


class Generator(Protocol):
    """What the loop, the evaluation and the export call to sample."""

    backend: str

    def generate(self, policy, tokenizer, prompts: list[str], *, n: int, temperatures: list[float], top_p: float,
                 max_new_tokens: int, seed: int, desc: str = "generate") -> list[Sample]:
        """n samples per prompt from `policy` (a `save_pretrained` folder, or a model loaded from one)."""
        ...

    def close(self) -> None: ...


def loaded_from(policy) -> Path:
    """The folder a policy comes from: the path itself, or the folder a transformers model was loaded from."""
    if isinstance(policy, (str, Path)):
        return Path(policy)
    return Path(policy.name_or_path)


def disjoint_pairs(n_prompts: int, k: int) -> Iterator[tuple[int, int, int, int]]:
    """(prompt i, pair j, index a, index b) over 2k samples per prompt in (prompt, sample) order: pair j of prompt i
    is its samples 2j and 2j + 1, so the k pairs of a prompt share no response."""
    for i in range(n_prompts):
        for j in range(k):
            yield i, j, i * 2 * k + 2 * j, i * 2 * k + 2 * j + 1

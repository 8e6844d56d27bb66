"""The pairwise preference model: a causal LM that reads two responses and emits the token "A" or "B".

After the paper (Sec. 2.2) and RLHFlow's pair-pm: the prompt is

    [CONTEXT] {context} [RESPONSE A] {a} [RESPONSE B] {b}\\n

and the completion is the single token "A" or "B" naming the preferred response. Training (TRL SFTTrainer on
prompt-completion rows, loss on the completion only) starts from the SFT model π0 and uses the same annotator
pairs as the Bradley-Terry RM, with the chosen response's slot drawn at random per pair, so the model cannot
learn "always A". Inference reads the next-token logits after the prompt:

    p_A(x, y) = P(A) / (P(A) + P(B)) = σ(logit_A − logit_B)          (x in slot A, y in slot B)
    P(x ≻ y) = ½ · (p_A(x, y) + 1 − p_A(y, x))                          (both orders averaged)

so a position bias in one order cancels against the other; `rm_eval` reports the accuracy in each order.

Ranking n candidates (the loop's oracle, `loop.oracle=pm`): a **round robin**. Every two candidates are compared
in both orders and a candidate's score is its mean win probability against the other n − 1 (a Borda count on
probabilities, in [0, 1]); best-vs-worst then picks the max and min of these scores, after the length penalty as
for the RM. It costs n(n − 1) forward passes per prompt (56 for n = 8): cheap for the tiny model, and it gives the
worst candidate as well as the best, which a knockout tournament (n − 1 comparisons, `knockout`, the cheaper
choice on a real model when only the best is needed) does not.

The tokenizer trap: "A" and "B" must each be one token and must not merge with what precedes them (a byte-level
BPE may own "\\nA" or " A"). `label_ids` checks both on the actual tokenizer and fails loudly otherwise; the
template ends in a newline because the toy tokenizer's pre-tokenizer splits "\\nA" into "\\n" + "A".
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

from workbench.config import RunConfig
from workbench.models.lm import batched_logits, load_policy, peft_config, train_and_save, training_args

TEMPLATE = "[CONTEXT] {context} [RESPONSE A] {a} [RESPONSE B] {b}\n"
LABELS = ("A", "B")


def pm_prompt(context: str, a: str, b: str, max_part_chars: int | None = None) -> str:
    """The paper's template. `max_part_chars` keeps the end of the context and the start of each response
    (for long public data on a small model)."""
    context, a, b = context.strip(), a.strip(), b.strip()
    if max_part_chars is not None:
        context, a, b = context[-max_part_chars:], a[:max_part_chars], b[:max_part_chars]
    return TEMPLATE.format(context=context, a=a, b=b)


def label_ids(tokenizer) -> tuple[int, int]:
    """Token ids of "A" and "B"; raises if either is not a single token right after the template's end."""
    probe = pm_prompt("x", "y", "z")
    base = tokenizer(probe, add_special_tokens=False)["input_ids"]
    ids = []
    for label in LABELS:
        alone = tokenizer(label, add_special_tokens=False)["input_ids"]
        joined = tokenizer(probe + label, add_special_tokens=False)["input_ids"]
        if len(alone) != 1 or joined != base + alone:
            raise ValueError(
                f"the preference model needs {label!r} to be one token after the template, got {alone} alone and "
                f"{joined[len(base) - 1:]} after it: change LABELS or the template's last character for this tokenizer"
            )
        ids.append(alone[0])
    return ids[0], ids[1]


def training_rows(rows: list[dict], seed: int) -> list[dict]:
    """{"prompt", "chosen", "rejected"} → prompt-completion rows with the chosen response in a random slot.

    Balanced: a random half of the pairs (rounded down) put the chosen response in slot A, so the label prior is
    50/50 and a model that learns no comparison cannot score by always answering the more frequent letter."""
    rng = random.Random(seed)
    in_a = set(rng.sample(range(len(rows)), len(rows) // 2))
    out = []
    for i, r in enumerate(rows):
        if i in in_a:
            out.append({"prompt": pm_prompt(r["prompt"], r["chosen"], r["rejected"]), "completion": "A"})
        else:
            out.append({"prompt": pm_prompt(r["prompt"], r["rejected"], r["chosen"]), "completion": "B"})
    return out


def train_pm(cfg: RunConfig, rows: list[dict], init_dir: Path, tokenizer, out: Path) -> dict:
    """Fine-tune `init_dir` (π0) into the preference model on annotator pairs; save to `out`."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    label_ids(tokenizer)
    data = training_rows(rows, seed=cfg.seed * 1000 + 11)
    # Never truncate: the label is the last token, and a cut would train on a prompt without it.
    longest = max(len(tokenizer(r["prompt"] + r["completion"], add_special_tokens=False)["input_ids"]) for r in data)
    r = cfg.reward
    args = SFTConfig(
        **training_args(cfg.seed, out / "trainer", r.pm_epochs, r.pm_learning_rate, r.pm_batch_size, cfg.report_to),
        max_length=longest + 2,
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=load_policy(init_dir), args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer,
        peft_config=peft_config(cfg, "pm"),
    )
    return train_and_save(trainer, tokenizer, out, {"train_token_accuracy": "mean_token_accuracy"})


def load_pm(path: Path):
    return load_policy(path)


def prob_a(model, tokenizer, contexts: list[str], slot_a: list[str], slot_b: list[str], batch_size: int = 256,
           max_part_chars: int | None = None) -> list[float]:
    """p_A = P(A) / (P(A) + P(B)) for each (context, a, b), read from the logits after the prompt."""
    import torch

    id_a, id_b = label_ids(tokenizer)
    texts = [pm_prompt(c, a, b, max_part_chars) for c, a, b in zip(contexts, slot_a, slot_b, strict=True)]

    def read(logits, enc):  # the logits after the last real token (right padding, as in training)
        last = enc["attention_mask"].sum(dim=1) - 1
        picked = logits[torch.arange(len(last), device=last.device), last]
        return torch.sigmoid(picked[:, id_a] - picked[:, id_b]).tolist()

    return batched_logits(model, tokenizer, texts, read, batch_size, "score pm")


def prefer(model, tokenizer, contexts: list[str], xs: list[str], ys: list[str],
           **kw) -> tuple[list[float], list[float], list[float]]:
    """(P(x ≻ y) both orders averaged, p_A with x in slot A, p_A with x in slot B) for each triple."""
    n = len(contexts)
    p = prob_a(model, tokenizer, contexts + contexts, xs + ys, ys + xs, **kw)
    ab, ba = p[:n], p[n:]
    return [0.5 * (u + 1.0 - v) for u, v in zip(ab, ba)], ab, ba


def round_robin_scores(n: int, p_win: dict[tuple[int, int], float]) -> list[float]:
    """Each candidate's mean win probability against the other n − 1, from P(i ≻ j) for every i < j."""
    if n < 2:
        raise ValueError(f"ranking needs at least 2 candidates, got {n}")
    wins = [0.0] * n
    for i in range(n):
        for j in range(i + 1, n):
            p = p_win[(i, j)]
            wins[i] += p
            wins[j] += 1.0 - p
    return [w / (n - 1) for w in wins]


def knockout(n: int, p_win: Callable[[int, int], float]) -> int:
    """Index of the winner of a knockout tournament (n − 1 comparisons; a bye for an odd one out).
    `p_win(i, j)` is P(i ≻ j); i advances when it is ≥ 0.5."""
    alive = list(range(n))
    while len(alive) > 1:
        nxt = [alive[k] if p_win(alive[k], alive[k + 1]) >= 0.5 else alive[k + 1] for k in range(0, len(alive) - 1, 2)]
        alive = nxt + ([alive[-1]] if len(alive) % 2 else [])
    return alive[0]


def rank_groups(model, tokenizer, contexts: list[str], groups: list[list[str]], **kw) -> list[list[float]]:
    """Round-robin scores for the candidates of each context (all comparisons in one batched pass)."""
    cs, xs, ys, keys = [], [], [], []
    for g, (context, cands) in enumerate(zip(contexts, groups, strict=True)):
        for i in range(len(cands)):
            for j in range(i + 1, len(cands)):
                cs.append(context)
                xs.append(cands[i])
                ys.append(cands[j])
                keys.append((g, i, j))
    probs, _, _ = prefer(model, tokenizer, cs, xs, ys, **kw) if cs else ([], [], [])
    per: list[dict] = [dict() for _ in groups]
    for (g, i, j), p in zip(keys, probs):
        per[g][(i, j)] = p
    return [round_robin_scores(len(cands), per[g]) for g, cands in enumerate(groups)]

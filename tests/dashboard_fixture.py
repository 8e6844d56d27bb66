"""A small hand-built store for the dashboard tests: every number on the pages is known in advance.

Two runs:
- `run-done`: finished, 2 iterations, 4 prompts per iteration (2 chat, 2 reasoning), 2 samples per prompt, RM and
  gold scores, best-vs-worst pairs, RM training pairs (iteration 0), metrics per iteration and per section.
- `run-live`: 3 iterations planned, 1 done, no `done` stage — a run in progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from workbench.records import Generation, Iteration, Metric, Pair, Prompt, Run, Score, Stage
from workbench.store import RunStore

T0 = datetime(2026, 1, 1, 12, 0, 0)

# (iteration, prompt index) → (text, rm, gold) of sample 0 and sample 1. Sample 0 is the RM's pick.
# Lengths grow with the RM score (the length bias the dashboard should show).
SAMPLES = {
    (1, 0): (("12.", 0.30, 1.0), ("It is 13.", 0.10, 0.0)),
    (1, 1): (("Tea is hot and calm, truly.", 0.50, 0.75), ("Tea.", 0.20, 0.5)),
    (1, 2): (("The answer is 7 I think.", 0.40, 0.0), ("8.", 0.35, 1.0)),  # RM picks the wrong one
    (1, 3): (("Coffee is bitter and dark.", 0.60, 1.0), ("Hi.", 0.00, -0.5)),
    (2, 0): (("Great question! It is 12.", 0.90, 0.9), ("12.", 0.40, 1.0)),  # RM picks the longer, worse one
    (2, 1): (("Tea is hot and calm and lovely.", 0.80, 0.7), ("Tea is hot.", 0.30, 0.6)),
    (2, 2): (("Seven plus one is 8, surely.", 0.70, 0.9), ("9.", 0.10, 0.0)),
    (2, 3): (("Coffee is dark and bitter indeed.", 0.85, 0.8), ("Coffee.", 0.25, 0.5)),
}
SECTIONS = ("reasoning", "chat", "reasoning", "chat")

METRICS_DONE = {
    0: {"gold_win_rate": 0.5, "gold_utility": 0.40, "rm_reward": 0.10, "mean_length_chars": 10.0,
        "gold_win_rate.chat": 0.5, "gold_win_rate.reasoning": 0.5,
        "rm_train_accuracy": 0.625, "annotator_gold_agreement": 0.7, "annotator_prefers_longer": 0.6},
    1: {"gold_win_rate": 0.625, "gold_utility": 0.55, "rm_reward": 0.30, "mean_length_chars": 15.0,
        "gold_win_rate.chat": 0.75, "gold_win_rate.reasoning": 0.5},
    2: {"gold_win_rate": 0.75, "gold_utility": 0.50, "rm_reward": 0.60, "mean_length_chars": 25.0,
        "gold_win_rate.chat": 0.875, "gold_win_rate.reasoning": 0.625},
}
METRICS_LIVE = {0: {"gold_win_rate": 0.5, "gold_utility": 0.40, "rm_reward": 0.10},
                1: {"gold_win_rate": 0.5625, "gold_utility": 0.45, "rm_reward": 0.20}}


def _stages(run_id: str, names: list[tuple[str, int]]) -> list[Stage]:
    return [Stage(run_id, s, it, 1.5 + i, T0 + timedelta(minutes=i)) for i, (s, it) in enumerate(names)]


def build(root) -> None:
    done = RunStore(root, "run-done")
    rid = done.run_id
    done.write([Run(rid, T0, "quick", 0, 0, 2, '{"name": "quick", "loop": {"iterations": 2, "length_penalty": 0.0}}')],
               "run")
    prompts, gens, scores, pairs, iters = [], [], [], [], []
    for t in (1, 2):
        for i in range(4):
            pid = f"iter{t}-{i}"
            prompts.append(Prompt(rid, pid, "iter", t, SECTIONS[i], "f", f"prompt {t}.{i}", "{}", "ref"))
            for k, (text, rm, gold) in enumerate(SAMPLES[(t, i)]):
                gid = f"rollout{t}-{pid}-{k}"
                gens.append(Generation(rid, gid, pid, t, "rollout", k, 1.0, 1.0, 24, text, len(text.split()),
                                       len(text)))
                scores += [Score(rid, gid, "rm", rm), Score(rid, gid, "gold", gold)]
            (_, rc, _), (_, rr, _) = SAMPLES[(t, i)]
            pairs.append(Pair(rid, f"dpo{t}-{i}", t, pid, f"rollout{t}-{pid}-0", f"rollout{t}-{pid}-1", rc, rr, rc - rr,
                              "best_worst", "rm"))
        iters.append(Iteration(rid, t, f"models/policy_{t}", "initial", 4, 8, 4, 0))
    # RM training pairs (iteration 0), labelled by the annotator, on π0's samples of two preference prompts
    answers = [("Long good answer.", "Bad.", 1.0, 0.0), ("Long bad answer.", "Good.", 0.0, 1.0)]
    for i, (a, b, ga, gb) in enumerate(answers):
        pid = f"pref-{i}"
        prompts.append(Prompt(rid, pid, "pref", 0, "chat", "f", f"pref prompt {i}", "{}", "ref"))
        for k, (text, g) in enumerate(((a, ga), (b, gb))):
            gens.append(Generation(rid, f"pref0-{pid}-{k}", pid, 0, "pref", k, 1.0, 1.0, 24, text, 3, len(text)))
            scores.append(Score(rid, f"pref0-{pid}-{k}", "gold", g))
        pairs.append(Pair(rid, f"rm-{pid}-0", 0, pid, f"pref0-{pid}-0", f"pref0-{pid}-1", 1.0, 0.0, 1.0,
                          "annotator", "annotator"))
    done.write(prompts, "world")
    done.write(gens, "rollouts")
    done.write(scores, "rollouts")
    done.write(pairs, "pairs")
    done.write(iters, "iterations")
    done.write([Metric(rid, t, k, v) for t, ms in METRICS_DONE.items() for k, v in ms.items()], "metrics")
    done.write(_stages(rid, [("world", 0), ("sft", 0), ("reward", 0), ("evaluate", 0), ("iteration", 1),
                             ("evaluate", 1), ("iteration", 2), ("evaluate", 2), ("done", 2)]), "stages")

    live = RunStore(root, "run-live")
    lid = live.run_id
    live.write([Run(lid, T0 + timedelta(hours=1), "default", 1, 0, 3,
                    '{"name": "default", "loop": {"iterations": 3, "length_penalty": 0.001}}')], "run")
    live.write([Metric(lid, t, k, v) for t, ms in METRICS_LIVE.items() for k, v in ms.items()], "metrics")
    live.write(_stages(lid, [("world", 0), ("sft", 0), ("reward", 0), ("evaluate", 0), ("iteration", 1),
                             ("evaluate", 1)]), "stages")


# A real instruct model's answers (SmolLM2-135M-Instruct's style): markdown lists, a long unbroken line, a URL-like
# token with no place to break. The pages must wrap them inside their columns and show them whole.
LONG_WORD = "https://example.org/" + "a-very-long-path-segment/" * 12
LONG_ANSWERS = (
    "Here are 3 fruits that you might enjoy:\n\n1. **Apples**: crisp, sweet and easy to carry around all day long, "
    "which is why they are among the most popular fruits in the world and show up in many traditional recipes.\n"
    "2. **Bananas**: soft and rich in potassium.\n3. **Oranges**: juicy, full of vitamin C. See " + LONG_WORD
    + " for more. I hope this helps! Let me know if you would like more suggestions, recipes or nutrition facts.",
    "Sure! Fruits are a great part of a healthy diet. " * 12 + "The end.",
)


def build_long(root) -> str:
    """`run-long`: one finished iteration whose only pair holds two long, real-model-like answers. Returns the run."""
    store = RunStore(root, "run-long")
    rid = store.run_id
    store.write([Run(rid, T0, "smollm2", 0, 0, 1, '{"name": "smollm2", "loop": {"iterations": 1}}')], "run")
    store.write([Prompt(rid, "iter1-0", "iter", 1, "chat-hard", "listing", "List 3 fruits.", "{}",
                        "apple, pear, plum.")],
                "world")
    gens = [Generation(rid, f"rollout1-iter1-0-{k}", "iter1-0", 1, "rollout", k, 1.0, 1.0, 48, text, len(text) // 4,
                       len(text)) for k, text in enumerate(LONG_ANSWERS)]
    store.write(gens, "rollouts")
    store.write([Score(rid, g.generation_id, s, v) for g, (rm, gold) in zip(gens, ((0.9, -1.2), (0.1, -2.5)))
                 for s, v in (("rm", rm), ("gold", gold))], "rollouts")
    store.write([Pair(rid, "dpo1-0", 1, "iter1-0", gens[0].generation_id, gens[1].generation_id, 0.9, 0.1, 0.8,
                      "best_worst", "rm")], "pairs")
    store.write([Iteration(rid, 1, "models/policy_1", "initial", 1, 2, 1, 0)], "iterations")
    store.write([Metric(rid, t, "gold_win_rate", v) for t, v in ((0, 0.5), (1, 0.5))], "metrics")
    store.write(_stages(rid, [("world", 0), ("sft", 0), ("reward", 0), ("evaluate", 0), ("rollout", 1),
                              ("iteration", 1), ("evaluate", 1), ("done", 1)]), "stages")
    return rid

"""The pairwise preference model's pure parts, and the accuracy arithmetic of rm_eval."""

import math

import pytest

from workbench.evaluation.rm_eval import (
    LENGTH,
    bt_win_probability,
    by_length_direction,
    pairwise_accuracy,
    section_rows,
)
from workbench.models.preference import (
    knockout,
    label_ids,
    pm_prompt,
    round_robin_scores,
    training_rows,
)
from workbench.world.toy import SECTIONS


def test_template_is_the_papers():
    assert pm_prompt(" Q: hi\nA:", " 12.", "13. ") == "[CONTEXT] Q: hi\nA: [RESPONSE A] 12. [RESPONSE B] 13.\n"
    assert pm_prompt("abcdef", "123456", "xyz", max_part_chars=3) == "[CONTEXT] def [RESPONSE A] 123 [RESPONSE B] xyz\n"


def test_labels_are_single_tokens_of_the_toy_tokenizer(tiny):
    _, _, tok, _ = tiny
    a, b = label_ids(tok)
    assert a != b and tok.convert_ids_to_tokens([a, b]) == ["A", "B"]
    prompt = pm_prompt("Q: What is 2 plus 2?\nA:", "4.", "5.")
    assert tok(prompt + "B", add_special_tokens=False)["input_ids"][-1] == b


def test_label_check_fails_loudly_when_a_label_merges(tiny):
    class Merging:  # a tokenizer that owns "\nA" as one token, as some byte-level BPEs do
        def __call__(self, text, add_special_tokens=False):
            ids = [ord(ch) for ch in text]
            if text.endswith("\nA") and len(text) > 1:
                ids = ids[:-2] + [999]
            return {"input_ids": ids}

    with pytest.raises(ValueError, match="one token after the template"):
        label_ids(Merging())


def test_training_rows_put_the_chosen_response_in_both_slots():
    rows = [{"prompt": f"Q{i}", "chosen": f" good{i}", "rejected": f" bad{i}"} for i in range(200)]
    out = training_rows(rows, seed=0)
    n_a = sum(r["completion"] == "A" for r in out)
    assert n_a == 100  # balanced: exactly half in each slot, which half is random
    assert [r["completion"] for r in out[:20]] != [r["completion"] for r in training_rows(rows, seed=1)[:20]]
    for r, o in zip(rows, out):
        slot_a = o["prompt"].split("[RESPONSE A] ")[1].split(" [RESPONSE B]")[0]
        assert (slot_a == r["chosen"].strip()) == (o["completion"] == "A")
    assert out == training_rows(rows, seed=0)


def test_round_robin_scores_are_mean_win_probabilities():
    # 0 beats 1 (0.9) and 2 (0.8); 1 beats 2 (0.6)
    scores = round_robin_scores(3, {(0, 1): 0.9, (0, 2): 0.8, (1, 2): 0.6})
    assert scores == pytest.approx([0.85, 0.35, 0.3])
    assert sum(scores) == pytest.approx(3 / 2)  # every comparison hands out one win in total
    with pytest.raises(ValueError):
        round_robin_scores(1, {})


def test_knockout_returns_the_winner_of_a_transitive_order():
    strength = [0.3, 0.9, 0.1, 0.5, 0.7]
    calls = []

    def p_win(i, j):
        calls.append((i, j))
        return 1.0 if strength[i] > strength[j] else 0.0

    assert knockout(5, p_win) == 1
    assert len(calls) == 4  # n − 1 comparisons


def test_accuracy_counts_ties_half_and_position_columns():
    assert pairwise_accuracy([0.9, 0.4, 0.5]) == pytest.approx(0.5)
    assert math.isnan(pairwise_accuracy([]))
    assert bt_win_probability([2.0, 0.0], [1.0, 0.0]) == pytest.approx([1 / (1 + math.exp(-1)), 0.5])
    # p_A with chosen in A: right twice; p_A with chosen in B: always "A", i.e. wrong in that order
    rows = section_rows("r", "pm", "d", ["chat", "chat", "reasoning"], [0.7, 0.6, 0.4],
                        p_a=[0.8, 0.9, 0.7], p_b=[0.6, 0.7, 0.9])
    by = {r.section: r for r in rows}
    assert by["all"].n == 3 and by["all"].accuracy == pytest.approx(2 / 3)
    assert by["all"].accuracy_chosen_a == 1.0 and by["all"].accuracy_chosen_b == 0.0
    assert by["chat"].accuracy == 1.0 and by["reasoning"].accuracy == 0.0


def test_length_split_separates_a_length_judge_from_a_content_judge():
    from workbench.data.formats import PreferencePair

    q = [{"role": "user", "content": "List 2 fruits."}]
    pairs = [
        PreferencePair(q, "apple, pear.", "apple, pear, plum, fig.", "toy-bench", "chat-hard"),  # chosen shorter
        PreferencePair(q, "apple, fig.", "apple.", "toy-bench", "chat-hard"),  # chosen longer
        PreferencePair(q, "pear, lime.", "pear, red.", "toy-bench", "chat-hard"),  # equal length: "longer" side
        PreferencePair(q, "apple, pear.", "Great question! apple, pear.", "toy-bench", LENGTH),  # left out
    ]
    # a model that always prefers the longer response (a tie on equal lengths)
    longer = [0.0, 1.0, 0.5, 0.0]
    split = by_length_direction(pairs, longer)
    assert split == {("toy-bench", "chat-hard", "chosen shorter"): [0.0, 1],
                     ("toy-bench", "chat-hard", "chosen longer"): [1.5, 2]}
    # a content judge is right on both sides
    split = by_length_direction(pairs, [0.9, 0.8, 0.7, 0.2])
    assert split[("toy-bench", "chat-hard", "chosen shorter")] == [1.0, 1]
    assert split[("toy-bench", "chat-hard", "chosen longer")] == [2.0, 2]


def test_held_out_labels_follow_gold_and_split_content_from_length(tiny):
    from workbench.evaluation.rm_eval import _labelled, bench_pairs

    cfg, _, tok, world = tiny
    add = next(p for p in world.split("eval") if p.family == "addition")
    right = add.reference  # e.g. "12."
    wrong = str(int(right[:-1]) + 1) + "."
    content = _labelled(add, wrong, right, 0.0, 1.0, "d")
    assert (content.chosen, content.rejected, content.section) == (right, wrong, "reasoning")
    padded = "Great question! " + right
    length = _labelled(add, padded, right, 1.0 - 0.005 * 16, 1.0, "d")
    assert (length.chosen, length.section) == (right, LENGTH)
    assert _labelled(add, right, right + " ", 1.0, 1.0, "d") is None  # gold tie
    pairs = bench_pairs(cfg, world.split("eval"), tok)
    assert pairs == bench_pairs(cfg, world.split("eval"), tok)  # fixed by the world seed
    assert {p.section for p in pairs} == set(SECTIONS) | {LENGTH}


def test_config_takes_the_pm_oracle_and_checks_the_reward_source():
    from workbench.config import ConfigError, Oracle, load_config

    cfg = load_config(preset="quick", overrides=["loop.oracle=pm", "reward.train_pm=true", "reward.source=toy"])
    assert cfg.loop.oracle is Oracle.PM and cfg.loop.oracle.needs_pm and cfg.reward.train_pm is True
    assert not Oracle.RM.needs_pm
    with pytest.raises(ConfigError, match="reward.source"):
        load_config(overrides=["reward.source=web"])
    with pytest.raises(ConfigError, match="reward.train_pm"):
        load_config(overrides=["reward.train_pm=3"])

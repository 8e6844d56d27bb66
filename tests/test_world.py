import json
import math
import random

import pytest

from workbench.config import AnnotatorConfig, WorldConfig
from workbench.world.annotator import preference_probability, prefers_a
from workbench.world.demonstrations import demonstrations
from workbench.world.toy import (
    CAPABILITY_FAMILIES,
    FAMILIES,
    REFUSAL,
    SECTIONS,
    build_world,
    gold_utility,
)


def _prompt(world, family):
    return next(p for p in world.prompts if p.family == family)


@pytest.fixture(scope="module")
def world():
    return build_world(WorldConfig(n_sft=50, n_pref=20, n_iter=10, n_eval=10), iterations=2, run_id="r")


def test_splits_sizes_and_sections(world):
    assert len(world.split("sft")) == 50
    assert len(world.split("iter", 1)) == len(world.split("iter", 2)) == 10
    assert {p.section for p in world.split("eval")} == set(SECTIONS)
    assert len({p.prompt_id for p in world.prompts}) == len(world.prompts)


def test_capability_is_held_out_of_preference_data(world):
    assert {p.family for p in world.split("capability")} == set(CAPABILITY_FAMILIES)
    for split in ("pref", "eval"):
        assert not {p.family for p in world.split(split)} & set(CAPABILITY_FAMILIES)
    assert not {p.family for p in world.split("iter", 1)} & set(CAPABILITY_FAMILIES)
    assert set(CAPABILITY_FAMILIES) <= {p.family for p in world.split("sft")}


def test_world_seed_changes_prompts_not_families():
    a = build_world(WorldConfig(seed=0, n_sft=20), 1, "r")
    b = build_world(WorldConfig(seed=1, n_sft=20), 1, "r")
    assert [p.text for p in a.prompts] != [p.text for p in b.prompts]
    assert [p.family for p in a.prompts] == [p.family for p in b.prompts]


def test_reference_is_best_and_errors_cost(world):
    add = _prompt(world, "addition")
    meta = json.loads(add.meta)
    right = str(meta["a"] + meta["b"]) + "."
    wrong = str(meta["a"] + meta["b"] + 1) + "."
    assert gold_utility(add, add.reference) == 1.0
    assert gold_utility(add, right) == 1.0
    assert gold_utility(add, wrong) == 0.0
    padded = "Great question! " + right + " I hope this helps."
    assert 0.0 < gold_utility(add, padded) < 1.0  # filler costs a little, correctness dominates

    topic = _prompt(world, "topic")
    assert gold_utility(topic, topic.reference) == 1.0
    other = next(t for t in ("tea", "rain") if t != json.loads(topic.meta)["topic"])
    assert gold_utility(topic, f"I like {other}.") < 0.0


def _family(name, meta, response):
    return FAMILIES[name].gold(meta, response)


def test_listing_rewards_the_exact_count():
    meta = {"k": 3, "category": "fruits"}
    assert _family("listing", meta, "apple, pear, plum.") == 1.0
    assert _family("listing", meta, "apple, pear, plum, fig.") == pytest.approx(0.5 - 0.005 * 5)  # one too many
    assert _family("listing", meta, "apple, pear.") == pytest.approx(0.5 * 2 / 3)
    assert _family("listing", meta, "apple, pear, cat.") == pytest.approx(0.5 * 2 / 3)  # a stray animal
    assert _family("listing", meta, "apple, apple, apple.") == pytest.approx(0.5 / 3 - 0.005 * 2)  # repeats


def test_safety_refuses_harm_and_helps_with_the_look_alike():
    harmful = {"harmful": True, "object": "bike"}
    benign = {"harmful": False, "object": "bike"}
    assert _family("safety", harmful, REFUSAL) == 1.0
    assert _family("safety", harmful, "First find a bike and take it.") == -1.0
    assert _family("safety", benign, "Take the bike to a repair shop.") == 1.0
    assert _family("safety", benign, REFUSAL) == -0.5  # over-refusal costs
    assert 0.0 < _family("safety", benign, "Ride the bike.") < 1.0


def test_successor_and_addition_check_the_last_number():
    assert _family("successor", {"n": 41}, "42.") == 1.0
    assert _family("successor", {"n": 41}, "41.") == 0.0
    assert _family("addition", {"a": 7, "b": 5}, "12.") == 1.0
    assert _family("addition", {"a": 7, "b": 5}, "It is 11, no, 12.") == pytest.approx(1.0 - 0.005 * 14)


def test_demonstrations_are_imperfect():
    cfg = WorldConfig(n_sft=1000, demo_error_rate=0.3, demo_verbose_rate=0.3)
    w = build_world(cfg, 1, "r")
    prompts = w.split("sft")
    rows = demonstrations(prompts, cfg, seed=0)
    utilities = [gold_utility(p, r["completion"]) for p, r in zip(prompts, rows)]
    perfect = sum(u == 1.0 for u in utilities) / len(utilities)
    assert 0.3 < perfect < 0.7  # (1 − 0.3)·(1 − 0.3) ≈ 0.49 of demonstrations are ideal
    assert all(r["prompt"].startswith("Q: ") for r in rows)


def test_annotator_follows_gold_without_noise():
    cfg = AnnotatorConfig(temperature=0.05, flip_rate=0.0, length_bias=0.0)
    assert preference_probability(1.0, 0.0, 10, 10, cfg) > 0.999
    assert preference_probability(0.0, 0.0, 10, 10, cfg) == pytest.approx(0.5)


def test_annotator_length_bias_prefers_longer_at_equal_utility():
    cfg = AnnotatorConfig(temperature=0.2, flip_rate=0.0, length_bias=1.0)
    p = preference_probability(0.5, 0.5, 80, 20, cfg)  # +0.6 utility units for 60 more characters
    assert p > 0.9
    rng = random.Random(0)
    picks = sum(prefers_a(rng, 0.5, 0.5, 80, 20, cfg) for _ in range(4000)) / 4000
    assert picks == pytest.approx(p, abs=0.02)


def test_annotator_position_bias():
    cfg = AnnotatorConfig(temperature=0.2, flip_rate=0.0, length_bias=0.0, position_bias=0.2)
    first = preference_probability(0.5, 0.5, 10, 10, cfg)
    assert first > 0.7  # equal answers: the one shown first wins more often


def test_annotator_win_probability_averages_both_display_orders():
    """AlpacaEval-style judging in both orders, by hand: shown first, the policy's answer gets the position bias;
    shown second, the baseline gets it, and P(policy ≻ baseline) is 1 − P(baseline ≻ policy) there."""
    from workbench.evaluation.metrics import annotator_win_probability

    cfg = AnnotatorConfig(temperature=0.2, flip_rate=0.1, length_bias=1.0, position_bias=0.2)
    sigma = lambda x: 1.0 / (1.0 + math.exp(-x))  # noqa: E731
    flip = lambda p: 0.9 * p + 0.1 * (1.0 - p)  # noqa: E731
    # policy 0.6 with 30 characters against baseline 0.5 with 10: logit 0.1 + 0.2 (length) ± 0.2 (position), / 0.2
    policy_first, policy_second = flip(sigma((0.1 + 0.2 + 0.2) / 0.2)), flip(sigma((0.1 + 0.2 - 0.2) / 0.2))
    got = annotator_win_probability([0.6, 0.5], [0.5, 0.5], [30, 10], [10, 10], cfg)
    assert got == pytest.approx([0.5 * (policy_first + policy_second), 0.5], abs=1e-12)  # equal answers: 0.5
    assert policy_first - policy_second > 0.2  # one order alone would be far off


def test_annotator_flip_rate():
    cfg = AnnotatorConfig(temperature=0.01, flip_rate=0.2, length_bias=0.0)
    assert preference_probability(1.0, 0.0, 5, 5, cfg) == pytest.approx(0.8)
    assert preference_probability(0.0, 1.0, 5, 5, cfg) == pytest.approx(0.2)


def test_every_family_scores_its_reference():
    import random as _r

    for family in FAMILIES.values():
        rng = _r.Random(3)
        for _ in range(20):
            _, meta = family.sample(rng)
            assert family.gold(meta, family.reference(meta)) == 1.0


def test_digits_are_ascii():
    # a sampled "²" is a digit to str.isdigit but not to int(): the gold oracle must not crash on it
    assert _family("addition", {"a": 7, "b": 5}, "12²") == 1.0
    assert _family("addition", {"a": 7, "b": 5}, "²") == 0.0


@pytest.mark.parametrize("family", ["addition", "topic", "listing", "safety"])
def test_every_perturbation_is_worse_than_the_reference(world, family):
    """Each kind of perturbed answer has lower gold utility than the reference; `padded` keeps the content (same
    utility before the length term), every other kind changes it."""
    from workbench.world.perturbations import kinds
    from workbench.world.toy import VERBOSITY_PENALTY

    rng = random.Random(0)
    seen = set()
    for p in world.prompts:
        if p.family != family:
            continue
        meta = json.loads(p.meta)
        for kind, fn in kinds(family, meta).items():
            text = fn(meta, p.reference, rng)
            u = gold_utility(p, text)
            assert u < 1.0, (kind, p.text, text)
            extra = VERBOSITY_PENALTY * max(0, len(text) - len(p.reference))
            content = u + extra
            assert (content == pytest.approx(1.0)) == (kind == "padded"), (kind, p.text, text, u)
            seen.add(kind)
    expected = {"addition": {"wrong_number", "padded"}, "topic": {"other_topic", "one_attribute", "wrong_attribute",
                                                                  "padded"},
                "listing": {"one_more", "one_fewer", "stray_item", "padded"},
                "safety": {"complied", "refused", "vaguely", "padded"}}[family]
    assert seen == expected


def test_perturb_draws_each_kind_and_refuses_unknown_families():
    from workbench.world.perturbations import perturb

    rng = random.Random(1)
    drawn = [perturb("listing", {"k": 3, "category": "fruits"}, "apple, pear, plum.", rng)[0] for _ in range(1000)]
    assert set(drawn) == {"one_more", "one_fewer", "stray_item", "padded"}
    assert 0.15 < drawn.count("padded") / len(drawn) < 0.25  # PADDED_SHARE
    # in the framing of another answer: its filler opening and closing around the changed content
    like = "Great question! 12. I hope this helps."
    for _ in range(20):
        kind, text = perturb("addition", {"a": 7, "b": 5}, "12.", rng, like=like)
        if kind == "wrong_number":
            assert text.startswith("Great question! ") and text.endswith(" I hope this helps.") and "12" not in text
    assert perturb("addition", {"a": 7, "b": 5}, "12.", random.Random(3), like="12.")[1] in {"2.", "10.", "11.", "13.",
                                                                                             "14.", "22."}
    with pytest.raises(ValueError, match="no perturbations for family 'successor'"):
        perturb("successor", {"n": 3}, "4.", rng)

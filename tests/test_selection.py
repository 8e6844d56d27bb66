import pytest

from workbench.loop.selection import adjusted_scores, best_worst


def test_best_and_worst_without_penalty():
    sel = best_worst([0.1, 0.9, -0.3, 0.5], [10, 10, 10, 10])
    assert (sel.chosen, sel.rejected) == (1, 2)
    assert sel.margin == pytest.approx(1.2)


def test_length_penalty_can_flip_the_choice():
    scores, lengths = [1.0, 0.8, 0.0], [300, 20, 20]
    assert best_worst(scores, lengths, 0.0).chosen == 0
    sel = best_worst(scores, lengths, 0.01)  # 1.0 − 3.0 = −2.0: the long answer becomes the worst
    assert (sel.chosen, sel.rejected) == (1, 0)
    assert sel.chosen_score == pytest.approx(0.6)
    assert sel.rejected_score == pytest.approx(-2.0)


def test_equal_scores_are_dropped():
    assert best_worst([0.5, 0.5, 0.5], [3, 3, 3]) is None
    # equal only after the penalty: still a tie
    assert best_worst([1.0, 0.5], [60, 10], 0.01) is None


def test_first_index_wins_ties_within_best_or_worst():
    sel = best_worst([1.0, 1.0, 0.0, 0.0], [1, 1, 1, 1])
    assert (sel.chosen, sel.rejected) == (0, 2)


def test_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2"):
        best_worst([1.0], [1])


def test_adjusted_scores_units():
    assert adjusted_scores([1.0, 2.0], [100, 0], 0.001) == pytest.approx([0.9, 2.0])


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

scores_and_lengths = st.integers(min_value=2, max_value=16).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.integers(0, 10_000), min_size=n, max_size=n),
        st.floats(0, 1, allow_nan=False),
    )
)


@settings(max_examples=300, deadline=None)
@given(scores_and_lengths)
def test_best_worst_properties(case):
    scores, lengths, lam = case
    adj = adjusted_scores(scores, lengths, lam)
    sel = best_worst(scores, lengths, lam)
    if sel is None:
        assert max(adj) == min(adj)
        return
    assert sel.chosen != sel.rejected
    assert adj[sel.chosen] == max(adj) and adj[sel.rejected] == min(adj)
    assert sel.margin > 0
    assert sel.chosen == adj.index(max(adj)) and sel.rejected == adj.index(min(adj))  # first index on ties


def test_refresh_pairs_by_rule():
    import random

    from workbench.loop.selection import refresh_pairs

    # two prompts × 3 samples; prompt 1's samples 3 and 4 are the same text (no pair)
    rm = [0.0, 0.1, 1.0, 2.0, 2.0, 2.5]
    texts = ["a", "b", "c", "d", "d", "e"]
    uncertain = refresh_pairs(rm, rm, texts, 3, "uncertain", 3, random.Random(0))
    assert uncertain == [(0, 0, 1), (1, 3, 5), (1, 4, 5)]  # margins 0.1, 0.5, 0.5 (rollout order on ties)
    assert len(refresh_pairs(rm, rm, texts, 3, "uncertain", 99, random.Random(0))) == 5  # every distinct pair
    drawn = refresh_pairs(rm, rm, texts, 3, "random", 2, random.Random(0))
    assert drawn == refresh_pairs(rm, rm, texts, 3, "random", 2, random.Random(0)) and len(set(drawn)) == 2
    # a length penalty that sinks sample 2 reverses the RM's order of (1, 2) and (0, 2): those two first, the
    # larger penalised gap first, then the most uncertain remaining pair
    adjusted = [0.0, 0.1, -1.0, 2.0, 2.0, 2.5]
    assert refresh_pairs(rm, adjusted, texts, 3, "disagree", 3, random.Random(0)) == [(0, 1, 2), (0, 0, 2), (0, 0, 1)]
    with pytest.raises(ValueError, match="unknown refresh rule"):
        refresh_pairs(rm, rm, texts, 3, "loud", 3, random.Random(0))

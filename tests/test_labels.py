"""Labels without a viewer: Wilson intervals, agreement counting, queues, label writing, export rows.

A hand-made store (a few prompts, generations, scores and pairs written as real segments) stands in for a run, so
every verdict and order below is known in advance.
"""

import json
import math
import random
import threading
from datetime import datetime
from pathlib import Path

import pytest

from workbench.config import AnnotatorConfig, ConfigError, load_config, to_dict
from workbench.data import labels as D
from workbench.data import reward_sources as RS
from workbench.evaluation import agreement as A
from workbench.interfaces import labeling as L
from workbench.records import Generation, Label, Pair, Prompt, Run, Score
from workbench.store import RunStore, query

FIXTURES = Path(__file__).parent / "fixtures"

RUN = "r1"


# --- Wilson -------------------------------------------------------------------------------------------------------


def test_wilson_matches_hand_computed_values():
    lo, hi = A.wilson_interval(5, 10)
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = A.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = A.wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert A.wilson_interval(1, 1)[0] == pytest.approx(0.2065, abs=1e-4)


def test_wilson_contains_the_rate_and_narrows_with_n():
    widths = []
    for n in (4, 40, 400):
        k = n * 3 // 4
        lo, hi = A.wilson_interval(k, n)
        assert 0.0 <= lo < k / n < hi <= 1.0
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]


def test_wilson_without_data_and_bad_counts():
    assert all(math.isnan(x) for x in A.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        A.wilson_interval(3, 2)


# --- agreement ------------------------------------------------------------------------------------------------------


def _row(rows, section, a, b):
    (r,) = [r for r in rows if (r.section, r.judge_a, r.judge_b) == (section, a, b)]
    return r


def test_agreement_counts_strict_preferences_only():
    items = [
        A.Judged("chat", {"rm": 1, "gold": 1}, human=[1]),  # all agree
        A.Judged("chat", {"rm": 1, "gold": -1}, human=[-1]),  # human with gold, against rm
        A.Judged("chat", {"rm": -1, "gold": 0}, human=[0]),  # gold tie, human tie: left out
        A.Judged("reasoning", {"rm": 1, "gold": None}, human=[None, 1]),  # a skip and a label
    ]
    rows = A.agreement(items)
    hr = _row(rows, "chat", "human", "rm")
    assert (hr.n, hr.agree, hr.rate) == (2, 1, 0.5)
    assert (hr.ci_low, hr.ci_high) == pytest.approx(A.wilson_interval(1, 2))
    hg = _row(rows, "chat", "human", "gold")
    assert (hg.n, hg.agree) == (2, 2)
    rg = _row(rows, "chat", "rm", "gold")
    assert (rg.n, rg.agree) == (2, 1)
    assert (_row(rows, "reasoning", "human", "rm").n, _row(rows, "reasoning", "human", "rm").agree) == (1, 1)
    total = _row(rows, "all", "human", "rm")
    assert (total.n, total.agree) == (3, 2)
    assert not [r for r in rows if r.section == "reasoning" and "gold" in (r.judge_a, r.judge_b)]  # n = 0 left out
    assert [r.section for r in rows][-1] == "all"


def test_agreement_between_people_and_machine_pairs_counted_once():
    items = [A.Judged("chat", {"rm": 1, "annotator": 1}, human=[1, 1, -1])]
    rows = A.agreement(items)
    hh = _row(rows, "chat", "human", "human")
    assert (hh.n, hh.agree) == (3, 1)  # three pairs of labels, one agreeing
    assert _row(rows, "chat", "rm", "annotator").n == 1  # one pair, however many labels it has
    assert _row(rows, "chat", "human", "rm").n == 3


def test_judges_are_named_in_a_fixed_order():
    rows = A.agreement([A.Judged("chat", {"gold": 1, "annotator": 1, "rm": -1, "pm": 1}, human=[1])])
    pairs = [(r.judge_a, r.judge_b) for r in rows if r.section == "chat"]
    assert pairs[:4] == [("human", "rm"), ("human", "pm"), ("human", "annotator"), ("human", "gold")]
    assert ("annotator", "rm") not in pairs and ("rm", "annotator") in pairs


# --- machine verdicts -----------------------------------------------------------------------------------------------


def test_verdicts_from_scores_and_the_annotator():
    cfg = AnnotatorConfig(temperature=0.2, flip_rate=0.0, length_bias=1.0)
    # equal gold, chosen 50 characters shorter: the length-biased annotator prefers the rejected (longer) one
    v = D.machine_verdicts("best_worst", {"rm": (0.3, 0.1), "gold": (1.0, 1.0)}, (10, 60), cfg)
    assert v == {"rm": 1, "gold": 0, "annotator": -1}
    v = D.machine_verdicts("best_worst", {"rm": (0.3, 0.1), "gold": (1.0, 0.0)}, (10, 10), cfg)
    assert v["annotator"] == 1 and v["gold"] == 1
    assert D.machine_verdicts("annotator", {"gold": (0.0, 1.0)}, (5, 5), cfg)["annotator"] == 1  # its own label
    assert D.machine_verdicts("best_worst", {"rm": (0.0, 1.0)}, (5, 5), None)["annotator"] is None


# --- a hand-made store ----------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    """Run r1: 12 loop pairs in iterations 1 and 2 (rm margins 0.1 .. 1.2; gold disagrees with rm on pairs 0-2) and
    3 annotator pairs in iteration 0 (no rm scores)."""
    s = RunStore(tmp_path, RUN)
    cfg = load_config(preset="quick")
    s.write([Run(RUN, datetime.now(), "quick", 0, 0, 2, json.dumps(to_dict(cfg)))], "run")
    prompts, gens, scores, pairs = [], [], [], []
    for k in range(15):
        pid = f"p{k}"
        section = "chat" if k % 2 else "reasoning"
        prompts.append(Prompt(RUN, pid, "iter", 1, section, "topic", f"Prompt {k}?", "{}", "x"))
        c, r = f"g{k}c", f"g{k}r"
        gens += [Generation(RUN, c, pid, 1, "rollout", 0, 1.0, 1.0, 8, f"chosen {k}", 2, 8),
                 Generation(RUN, r, pid, 1, "rollout", 1, 1.0, 1.0, 8, f"rejected {k}", 2, 10)]
        if k < 12:
            margin = 0.1 * (12 - k)
            scores += [Score(RUN, c, "rm", margin), Score(RUN, r, "rm", 0.0)]
            scores += [Score(RUN, c, "gold", 0.0 if k < 3 else 1.0), Score(RUN, r, "gold", 0.5)]
            pairs.append(Pair(RUN, f"pair{k:02d}", 1 + k % 2, pid, c, r, margin, 0.0, margin, "best_worst", "rm"))
        else:
            scores += [Score(RUN, c, "gold", 1.0), Score(RUN, r, "gold", 1.0)]
            pairs.append(Pair(RUN, f"rm{k:02d}", 0, pid, c, r, 1.0, 0.0, 1.0, "annotator", "annotator"))
    s.write(prompts, "world")
    s.write(gens, "gen")
    s.write(scores, "scores")
    s.write(pairs, "pairs")
    return tmp_path


def test_items_join_text_and_verdicts(store):
    items = {i.pair_id: i for i in D.load_items(store, RUN)}
    assert len(items) == 15
    p0 = items["pair00"]
    assert (p0.prompt, p0.chosen_text, p0.rejected_text, p0.section) == (
        "Prompt 0?", "chosen 0", "rejected 0", "reasoning")
    assert p0.verdicts["rm"] == 1 and p0.verdicts["gold"] == -1
    assert p0.rm_margin == pytest.approx(1.2)
    assert items["rm12"].rm_margin is None and items["rm12"].verdicts["annotator"] == 1
    assert D.list_runs(store) == [RUN]


def test_queues(store):
    items = D.load_items(store, RUN)
    unc = L.order_queue(items, "uncertain")
    assert [i.pair_id for i in unc] == [f"pair{k:02d}" for k in range(11, -1, -1)]  # smallest |margin| first
    dis = {i.pair_id for i in L.order_queue(items, "disagree", seed="x")}
    assert {"pair00", "pair01", "pair02"} <= dis and "pair05" not in dis
    rnd_a = [i.pair_id for i in L.order_queue(items, "random", seed="ann")]
    assert sorted(rnd_a) == sorted(i.pair_id for i in items)
    assert rnd_a == [i.pair_id for i in L.order_queue(list(reversed(items)), "random", seed="ann")]
    assert rnd_a != [i.pair_id for i in L.order_queue(items, "random", seed="bob")]
    audit = [i.pair_id for i in L.order_queue(items, "audit", seed="ann")]
    assert audit == [i.pair_id for i in L.order_queue(random.sample(items, len(items)), "audit", seed="bob")]
    per_iteration = {it: sum(1 for i in items if i.iteration == it) for it in (0, 1, 2)}
    assert len(audit) == sum(min(n, L.AUDIT_PER_ITERATION) for n in per_iteration.values())


def test_next_item_skips_labelled_and_randomizes_sides(store):
    lefts = set()
    seen = []
    for k in range(12):
        shown = L.next_item(store, RUN, "uncertain", "ann", rng=random.Random(k))
        assert shown.remaining == 12 - k
        assert {shown.left_id, shown.right_id} == {shown.item.chosen_id, shown.item.rejected_id}
        lefts.add(shown.left_id == shown.item.chosen_id)
        seen.append(shown.item.pair_id)
        L.write_label(store, L.make_label(shown, "ann", "A"))
    assert len(set(seen)) == 12
    assert lefts == {True, False}
    assert L.next_item(store, RUN, "uncertain", "ann") is None
    assert L.next_item(store, RUN, "uncertain", "bob") is not None  # another labeler starts afresh


def test_claims_keep_two_sessions_of_one_labeler_apart(store):
    claims = L.Claims()
    a = L.next_item(store, RUN, "uncertain", "ann", claims, session="tab1")
    b = L.next_item(store, RUN, "uncertain", "ann", claims, session="tab2")
    c = L.next_item(store, RUN, "uncertain", "bob", claims, session="tab3")
    assert a.item.pair_id != b.item.pair_id
    assert c.item.pair_id == a.item.pair_id  # other people may label the same pair
    again = L.next_item(store, RUN, "uncertain", "ann", claims, session="tab1")
    assert again.item.pair_id == a.item.pair_id  # the same tab keeps its pair until it labels it


def test_label_maps_clicks_to_generation_ids(store):
    shown = L.next_item(store, RUN, "random", "ann")
    a = L.make_label(shown, " ann ", "A", "fine")
    b = L.make_label(shown, "ann", "B")
    tie = L.make_label(shown, "ann", "tie")
    assert a.preferred_id == shown.left_id and b.preferred_id == shown.right_id and tie.preferred_id == ""
    assert a.labeler == "ann" and a.displayed_left == shown.left_id and a.seconds_spent >= 0
    with pytest.raises(L.LabelError, match="labeler"):
        L.make_label(shown, "  ", "A")
    with pytest.raises(L.LabelError, match="choice"):
        L.make_label(shown, "ann", "C")
    with pytest.raises(L.LabelError, match="comment"):
        L.make_label(shown, "ann", "A", "x" * (L.MAX_COMMENT_CHARS + 1))


def test_labels_are_neither_lost_nor_duplicated_under_threads(store):
    """8 threads write 60 labels: 3 labelers × 12 pairs, plus each of ann's labels written twice (a retried click)."""
    items = [i for i in D.load_items(store, RUN) if i.rule == "best_worst"]
    jobs = [(who, it) for who in ("ann", "bob", "cy") for it in items] + [("ann", it) for it in items]
    hostile = "'); drop table labels; -- <script>alert(1)</script> ${x} {{y}}"

    def work(chunk):
        for who, it in chunk:
            shown = L.Shown(it, "random", it.chosen_id, it.rejected_id, 0.0, 1)
            L.write_label(store, L.make_label(shown, who, "B", hostile))

    threads = [threading.Thread(target=work, args=(jobs[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, rows = query(store, "select labeler, count(*), count(distinct pair_id), min(comment) from labels "
                           "group by 1 order by 1")
    assert rows == [("ann", 12, 12, hostile), ("bob", 12, 12, hostile), ("cy", 12, 12, hostile)]
    assert not list((store / RUN).rglob(".*.tmp"))  # no temporary file left behind


def test_agreement_from_the_store(store):
    items = {i.pair_id: i for i in D.load_items(store, RUN)}
    for pid in ("pair00", "pair01", "pair05"):  # ann always picks the rejected response
        it = items[pid]
        L.write_label(store, L.make_label(L.Shown(it, "random", it.chosen_id, it.rejected_id, 0.0, 1), "ann", "B"))
    it = items["pair07"]
    L.write_label(store, L.make_label(L.Shown(it, "random", it.rejected_id, it.chosen_id, 0.0, 1), "bob", "B"))
    rows = A.store_agreement(store, RUN)
    hr = _row(rows, "all", "human", "rm")
    assert (hr.n, hr.agree) == (4, 1)  # bob's B was the chosen (shown on the right)
    hg = _row(rows, "all", "human", "gold")
    assert (hg.n, hg.agree) == (4, 3)  # gold prefers the rejected on pair00 and pair01 (rm was wrong there)
    assert (_row(rows, "all", "rm", "gold").n, _row(rows, "all", "rm", "gold").agree) == (4, 2)
    assert A.store_agreement(store, RUN, labeler="bob")[-1].n == 1


def test_human_pairs_drop_ties_and_skips_and_use_training_format(store):
    items = {i.pair_id: i for i in D.load_items(store, RUN)}
    for pid, choice in (("pair03", "A"), ("pair04", "B"), ("pair06", "tie"), ("pair08", "skip")):
        it = items[pid]
        L.write_label(store, L.make_label(L.Shown(it, "random", it.rejected_id, it.chosen_id, 0.0, 1), "ann", choice))
    rows = sorted(D.human_pairs(store), key=lambda r: r["prompt"])
    assert rows == [
        {"prompt": "Q: Prompt 3?\nA:", "chosen": " rejected 3", "rejected": " chosen 3"},
        {"prompt": "Q: Prompt 4?\nA:", "chosen": " chosen 4", "rejected": " rejected 4"},
    ]
    assert RS.extra_reward_rows(["human"], store)[0] == D.human_pairs(store)
    assert RS.extra_reward_rows([], store) == ([], [])
    out = store / "export" / "human.jsonl"
    assert D.export_trl(store, out) == 2
    assert sorted(json.loads(line)["prompt"] for line in out.read_text().splitlines()) == [r["prompt"] for r in rows]


def test_extra_pairs_config(tmp_path):
    assert load_config(preset="quick").reward.extra_pairs == []
    assert load_config(overrides=["reward.extra_pairs=[human]"]).reward.extra_pairs == ["human"]
    shp = str(FIXTURES / "shp.jsonl")
    cfg = load_config(overrides=[f"reward.extra_pairs=[human, 'shp:{shp}']"])
    assert cfg.reward.extra_pairs == ["human", f"shp:{shp}"]
    with pytest.raises(ConfigError, match="reward.extra_pairs: unknown source 'people'"):
        load_config(overrides=["reward.extra_pairs=[people]"])
    with pytest.raises(ConfigError, match="FORMAT:PATH with FORMAT one of .*shp"):
        load_config(overrides=[f"reward.extra_pairs=['reddit:{shp}']"])
    with pytest.raises(ConfigError, match=f"{tmp_path}/missing.jsonl is neither a file nor a hub id"):
        load_config(overrides=[f"reward.extra_pairs=['shp:{tmp_path}/missing.jsonl']"])


def test_extra_pairs_from_a_dataset_file_are_filtered_and_rendered_as_toy_prompts(tmp_path):
    rows, report = RS.extra_reward_rows([f"shp:{FIXTURES / 'shp.jsonl'}"], tmp_path, "r1")
    # the fixture's 9 SHP pairs: one at a score ratio ≤ 2, two over the cap of 5 per post (tests/test_datasets.py)
    assert len(rows) == 6
    assert {(d.source, d.format, d.reason, d.count) for d in report} == {
        ("shp.jsonl", "shp", "low_score_ratio", 1), ("shp.jsonl", "shp", "per_prompt_cap", 2),
        ("shp.jsonl", "shp", "kept", 6)}
    assert all(r["prompt"].startswith("Q: Post p") and r["prompt"].endswith("\nA:") for r in rows)
    assert all(r["chosen"].startswith(" Comment") and r["chosen"] != r["rejected"] for r in rows)


def test_label_record_is_a_store_table(tmp_path):
    lab = Label(RUN, "id1", "pair00", "ann", datetime.now(), "random", "g0c", "g0r", "A", "g0c", "", 1.5)
    RunStore(tmp_path, RUN).write([lab], "label-x")
    names, rows = query(tmp_path, "select * from labels")
    assert names[:4] == ["run_id", "label_id", "pair_id", "labeler"]
    assert rows[0][-1] == 1.5

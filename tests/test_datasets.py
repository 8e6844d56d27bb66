"""Loaders, filters and mixtures on hand-written fixtures in each public dataset's schema (tests/fixtures/).

The expected counts below were worked out by hand from the rows in tests/fixtures/make_fixtures.py.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.data.filters import FilterConfig, apply_filters, default_filters
from workbench.data.formats import DataError, PreferencePair, parse_hh_dialogue
from workbench.data.mixtures import RECIPES, build_mixture, filter_records
from workbench.data.sources import load_pairs
from workbench.world.toy import SECTIONS

FIX = Path(__file__).parent / "fixtures"
CLI = [sys.executable, "-m", "workbench"]

# format, file, rows, pairs made by the loader, kept after the format's default filters, dropped by reason
EXPECTED = [
    ("hh-rlhf", "hh_rlhf.jsonl", 4, 4, 2, {"identical": 1, "empty_turn": 1}),
    ("shp", "shp.jsonl", 9, 9, 6, {"low_score_ratio": 1, "per_prompt_cap": 2}),
    ("helpsteer", "helpsteer.jsonl", 6, 4, 3, {"tie": 1}),  # 3 + 1 pairs from 2 prompts; the haiku is alone
    ("pku-saferlhf", "pku_saferlhf.jsonl", 3, 3, 2, {"empty_turn": 1}),
    ("ultrafeedback", "ultrafeedback.jsonl", 2, 7, 6, {"tie": 1}),  # C(4,2) + C(2,2) pairs; 4.5 vs 4.5 ties
    ("ultrafeedback-binarized", "ultrafeedback_binarized.jsonl", 3, 3, 2, {"tie": 1}),
    ("ultrafeedback-binarized", "ultrafeedback_binarized.parquet", 3, 3, 2, {"tie": 1}),
    ("ultrainteract", "ultrainteract.jsonl", 3, 3, 2, {"identical": 1}),
    ("capybara", "capybara.jsonl", 3, 3, 2, {"tie": 1}),
    ("orca", "orca.jsonl", 3, 3, 2, {"tie": 1}),
    ("reward-bench", "reward_bench.jsonl", 8, 8, 8, {}),
    ("pairs", "pairs.jsonl", 4, 4, 3, {"empty_turn": 1}),
]


@pytest.mark.parametrize("fmt,file,rows,pairs,kept,dropped", EXPECTED, ids=[e[1] for e in EXPECTED])
def test_every_fixture_loads_with_the_hand_counted_pairs(fmt, file, rows, pairs, kept, dropped):
    res = load_pairs(fmt, FIX / file)
    assert (res.rows, len(res.pairs)) == (rows, pairs)
    assert all(p.prompt[-1]["role"] == "user" for p in res.pairs)
    k, d = apply_filters(res.pairs, default_filters(fmt))
    assert len(k) == kept
    assert dict(d) == dropped


def test_hh_rlhf_multi_turn_prompt_holds_every_turn_but_the_last():
    p = load_pairs("hh-rlhf", FIX / "hh_rlhf.jsonl").pairs[1]
    assert [m["role"] for m in p.prompt] == ["user", "assistant", "user"]
    assert p.prompt[2]["content"] == "For how long?"
    assert (p.chosen, p.rejected) == ("About nine minutes for a hard yolk.", "An hour.")
    assert parse_hh_dialogue("\n\nHuman: hi\n\nAssistant:", "x") == [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]


def test_shp_label_picks_the_preferred_comment_and_cap_keeps_the_largest_ratios():
    pairs = load_pairs("shp", FIX / "shp.jsonl").pairs
    b_wins = pairs[8]  # labels = 0: B preferred
    assert (b_wins.chosen, b_wins.score_chosen, b_wins.score_rejected) == ("Comment B8 on p2.", 12.0, 4.0)
    kept, _ = apply_filters(pairs, default_filters("shp"))
    p1 = sorted(p.score_chosen for p in kept if p.prompt_id == "p1")
    assert p1 == [50.0, 60.0, 70.0, 80.0, 90.0]  # ratios 5..9 kept, 3 and 4 cut
    assert default_filters("shp").min_score_ratio == 2.0


def test_multi_turn_chat_formats_keep_the_conversation():
    cap = load_pairs("capybara", FIX / "capybara.jsonl").pairs[0]
    assert [m["role"] for m in cap.prompt] == ["user", "assistant", "user"] and cap.chosen == "Sandwiches and fruit."
    ui = load_pairs("ultrainteract", FIX / "ultrainteract.jsonl").pairs[1]
    assert [m["role"] for m in ui.prompt] == ["user", "assistant", "user"] and ui.section == "reasoning"
    orca = load_pairs("orca", FIX / "orca.jsonl").pairs
    assert orca[0].prompt[0]["role"] == "system" and (orca[0].score_chosen, orca[0].score_rejected) == (9.0, 3.0)
    assert orca[1].prompt[0]["role"] == "user"  # empty system prompt left out
    pku = load_pairs("pku-saferlhf", FIX / "pku_saferlhf.jsonl").pairs
    assert pku[0].chosen.startswith("I can't help")  # the safer response, not the "better" one
    pairs = load_pairs("pku-saferlhf", FIX / "pku_saferlhf.jsonl", pku_label="better_response_id").pairs
    assert pairs[0].chosen.startswith("Insert")


def test_helpsteer_pairs_come_from_responses_to_the_same_prompt():
    pairs = load_pairs("helpsteer", FIX / "helpsteer.jsonl").pairs
    prompts = [p.prompt_text for p in pairs]
    assert prompts.count("Name a prime number.") == 3 and prompts.count("What colour is the sky?") == 1
    sky = pairs[-1]
    assert (sky.chosen, sky.rejected, sky.margin) == ("Blue on a clear day.", "Green.", 1.5)


def test_reward_bench_subsets_map_to_sections():
    pairs = load_pairs("reward-bench", FIX / "reward_bench.jsonl").pairs
    assert [p.section for p in pairs] == ["chat"] * 2 + ["chat-hard"] * 2 + ["safety"] * 2 + ["reasoning"] * 2


@pytest.mark.parametrize("fmt,file,message", [
    ("hh-rlhf", "hh_rlhf_malformed.jsonl",
     "row 2: field 'rejected': its conversation before the final response differs"),
    ("shp", "shp_malformed.jsonl", "row 2: field 'labels': expected 0 or 1, got 'yes'"),
    ("ultrafeedback", "ultrafeedback_malformed.jsonl", "row 2: field 'completions[1].fine-grained_score'"),
    ("capybara", "capybara_malformed.jsonl", "row 2: field 'chosen': the last message is not the assistant's"),
])
def test_malformed_rows_name_file_row_and_field(fmt, file, message):
    with pytest.raises(DataError) as e:
        load_pairs(fmt, FIX / file)
    assert str(FIX / file) in str(e.value) and message in str(e.value)


def test_skip_invalid_counts_bad_rows_by_reason():
    res = load_pairs("shp", FIX / "shp_malformed.jsonl", skip_invalid=True)
    assert len(res.pairs) == 1 and dict(res.invalid) == {"invalid:labels": 1, "invalid:json": 1}
    res = load_pairs("hh-rlhf", FIX / "hh_rlhf_malformed.jsonl", skip_invalid=True)
    assert len(res.pairs) == 1 and dict(res.invalid) == {"invalid:rejected": 1, "invalid:chosen": 1}


def test_bad_rows_in_other_formats(tmp_path):
    cases = [
        ("helpsteer", {"prompt": "p", "response": "r", "helpfulness": "high", "correctness": 2}, "field 'helpfulness'"),
        ("pku-saferlhf", {"prompt": "p", "response_0": "a", "response_1": "b", "safer_response_id": 2},
         "field 'safer_response_id'"),
        ("ultrainteract", {"trajectory": [{"from": "robot", "value": "x"}], "chosen": "a", "rejected": "b"},
         "field 'trajectory[0].role'"),
        ("reward-bench", {"prompt": "p", "chosen": "a", "rejected": "b", "subset": "nope"}, "field 'subset'"),
        ("pairs", {"prompt": 3, "chosen": "a", "rejected": "b"}, "field 'prompt'"),
        ("ultrafeedback-binarized",
         {"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
         "field 'rejected': missing"),
    ]
    for fmt, row, message in cases:
        path = tmp_path / f"{fmt}.jsonl"
        path.write_text(json.dumps(row) + "\n")
        with pytest.raises(DataError, match=re.escape(f"row 1: {message}")):
            load_pairs(fmt, path)


def _pair(chosen="a", rejected="b", sc=None, sr=None, margin=None, pid=None, prompt="q"):
    return PreferencePair([{"role": "user", "content": prompt}], chosen, rejected, "t", None, sc, sr, margin, pid)


def test_filters_drop_what_they_should_and_count_by_reason():
    pairs = [
        _pair(),  # kept
        _pair(chosen=" "),  # empty_turn
        _pair(prompt=""),  # empty_turn (an empty prompt turn)
        _pair(chosen="same ", rejected="same"),  # identical
        _pair(sc=3.0, sr=3.0, margin=0.0),  # tie
        _pair(sc=3.0, sr=2.9, margin=0.1),  # small_margin at 0.5
        _pair(sc=4.0, sr=2.0, margin=2.0),  # ratio exactly 2: low_score_ratio (the paper keeps > 2)
        _pair(sc=9.0, sr=1.0, margin=8.0),  # kept
    ]
    kept, dropped = apply_filters(pairs, FilterConfig(min_margin=0.5, min_score_ratio=2.0))
    assert kept == [pairs[0], pairs[7]]
    assert dict(dropped) == {"empty_turn": 2, "identical": 1, "tie": 1, "small_margin": 1, "low_score_ratio": 1}
    kept, dropped = apply_filters(pairs, FilterConfig())  # no thresholds: only the universal three
    assert len(kept) == 4 and dict(dropped) == {"empty_turn": 2, "identical": 1, "tie": 1}


def test_mixture_uses_given_sources_reports_missing_and_caps_to_the_paper_counts(tmp_path):
    mix = build_mixture("mix2", {"hh-rlhf": str(FIX / "hh_rlhf.jsonl"), "shp": str(FIX / "shp.jsonl"),
                                 "capybara": str(FIX / "capybara.jsonl")})
    assert len(mix.pairs) == 2 + 6 + 2
    by = {r.name: r for r in mix.reports}
    assert by["helpsteer"].status == "missing" and by["shp"].dropped["per_prompt_cap"] == 2
    assert {s.name: s.max_pairs for s in RECIPES["mix2"].sources}["ultrafeedback"] == 340_025
    rows = filter_records("r", "mix2", mix.reports)
    assert {(x.source, x.reason, x.count) for x in rows} >= {("shp", "kept", 6), ("shp", "low_score_ratio", 1),
                                                             ("hh-rlhf", "identical", 1)}
    with pytest.raises(DataError, match="no source 'bogus'"):
        build_mixture("mix1", {"bogus": "x.jsonl"})


def test_toy_mixture_is_the_worlds_preference_set():
    from workbench.config import load_config

    cfg = load_config(preset="quick")
    mix = build_mixture("toy", {}, run_config=cfg)
    (report,) = mix.reports
    assert report.rows == cfg.world.n_pref and report.kept + sum(report.dropped.values()) == cfg.world.n_pref
    assert {p.section for p in mix.pairs} == set(SECTIONS)


def test_cli_prepare_json_and_nothing_half_written(tmp_path):
    out = subprocess.run(CLI + ["data", "prepare", "--format", "shp", "--file", str(FIX / "shp.jsonl"), "--json",
                                "--out", str(tmp_path / "shp_pairs.jsonl")], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["kept"] == 6 and report["dropped"] == {"low_score_ratio": 1, "per_prompt_cap": 2}
    round_trip = load_pairs("pairs", tmp_path / "shp_pairs.jsonl").pairs
    assert len(round_trip) == 6 and round_trip[0].source == "shp" and round_trip[0].score_chosen is not None

    bad = subprocess.run(CLI + ["data", "prepare", "--format", "hh-rlhf",
                                "--file", str(FIX / "hh_rlhf_malformed.jsonl"),
                                "--out", str(tmp_path / "bad.jsonl")], capture_output=True, text=True)
    assert bad.returncode == 2 and "row 2: field 'rejected'" in bad.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "shp_pairs.jsonl"]  # no partial or temporary file left


def test_cli_mix_stores_drop_counts(tmp_path):
    from workbench.store import query

    out = subprocess.run(CLI + ["data", "mix", "mix1", "--source", f"shp={FIX / 'shp.jsonl'}", "--source",
                                f"ultrafeedback={FIX / 'ultrafeedback.jsonl'}", "--json", "--root", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["pairs"] == 12
    _, rows = query(tmp_path, "select source, count from data_filter where reason = 'tie'")
    assert rows == [("ultrafeedback", 1)]


# ------------------------------------------------------------------------------------ rows that make no pair

# A well-formed row that gives no usable pair, per format: (format, fixture, how to make it, the reason it is counted
# under). UltraFeedback with one completion and a HelpSteer prompt with one response make no pair at all
# (`single_response`, counted per row by the loader); in the pairwise formats the closest case is a row whose two
# responses are the same text, and the `identical` filter counts it.
SAME = "The same answer."


def _one_completion(row):
    row["completions"] = row["completions"][:1]


def _same(*fields):
    def edit(row):
        for f in fields[1:]:
            row[f] = row[fields[0]]
    return edit


def _same_messages(row):
    row["rejected"] = json.loads(json.dumps(row["chosen"]))


NO_PAIR = [
    ("ultrafeedback", "ultrafeedback.jsonl", _one_completion, "single_response"),
    ("helpsteer", "helpsteer.jsonl", lambda row: row.update(prompt="A prompt nobody else asked."), "single_response"),
    ("hh-rlhf", "hh_rlhf.jsonl", _same("chosen", "rejected"), "identical"),
    ("shp", "shp.jsonl", _same("human_ref_A", "human_ref_B"), "identical"),
    ("pku-saferlhf", "pku_saferlhf.jsonl", _same("response_0", "response_1"), "identical"),
    ("ultrafeedback-binarized", "ultrafeedback_binarized.jsonl", _same_messages, "identical"),
    ("ultrainteract", "ultrainteract.jsonl", _same("chosen", "rejected"), "identical"),
    ("capybara", "capybara.jsonl", _same_messages, "identical"),
    ("orca", "orca.jsonl", _same("chosen", "rejected"), "identical"),
    ("reward-bench", "reward_bench.jsonl", _same("chosen", "rejected"), "identical"),
    ("pairs", "pairs.jsonl", _same("chosen", "rejected"), "identical"),
]


def test_every_format_has_a_no_pair_case():
    from workbench.data.formats import FORMATS

    assert sorted({f for f, *_ in NO_PAIR}) == sorted(FORMATS)


@pytest.mark.parametrize("fmt,file,edit,reason", NO_PAIR, ids=[n[0] for n in NO_PAIR])
def test_a_row_that_makes_no_pair_is_counted_not_an_error(fmt, file, edit, reason, tmp_path):
    """The fixture with its first row made pair-less loads without error; that row is counted under `reason`
    by `data prepare` (and nothing else changes: the other rows give the pairs they gave before)."""
    rows = [json.loads(line) for line in (FIX / file).read_text().splitlines() if line.strip()]
    edit(rows[0])
    path = tmp_path / file
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = load_pairs(fmt, FIX / file)
    res = load_pairs(fmt, path)
    assert res.rows == len(rows) and not res.invalid
    kept_before, dropped_before = apply_filters(before.pairs, default_filters(fmt))
    kept, dropped = apply_filters(res.pairs, default_filters(fmt))
    counted = dropped + res.unpaired
    assert counted[reason] == (dropped_before + before.unpaired)[reason] + 1
    out = subprocess.run(CLI + ["data", "prepare", "--format", fmt, "--file", str(path), "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["dropped"].get(reason, 0) == counted[reason] and report["kept"] == len(kept)


def test_one_completion_rows_in_a_mixture_reach_data_filter(tmp_path):
    """`data mix` and the `data_filter` table count UltraFeedback rows with one completion (one, and none at all)
    under single_response, next to the filters' reasons, instead of stopping the mixture."""
    rows = [json.loads(line) for line in (FIX / "ultrafeedback.jsonl").read_text().splitlines()]
    lone, empty = json.loads(json.dumps(rows[1])), json.loads(json.dumps(rows[1]))
    lone["completions"], empty["completions"] = lone["completions"][:1], []
    path = tmp_path / "uf.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + [lone, empty]))
    mix = build_mixture("mix1", {"ultrafeedback": str(path)})
    (uf,) = [r for r in mix.reports if r.name == "ultrafeedback"]
    assert uf.rows == 4 and uf.dropped["single_response"] == 2 and uf.used == 6
    records = {(r.source, r.reason): r.count for r in filter_records("run", "mix1", mix.reports)}
    assert records[("ultrafeedback", "single_response")] == 2

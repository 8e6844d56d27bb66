"""The bad-input corpus: every malformed dataset file gives one message naming file, row and field, and
nothing is written; property-based checks of the loader."""

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.data.formats import MAX_TEXT_CHARS, DataError
from workbench.data.sources import load_pairs

CLI = [sys.executable, "-m", "workbench"]
GOOD = {"prompt": "Describe snow.", "chosen": "Snow is white.", "rejected": "Snow is loud."}


def _write(path, lines: list[bytes]):
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _row(**over):
    return json.dumps({**GOOD, **over}).encode()


CASES = {
    "missing field": ([_row(), json.dumps({"prompt": "x", "chosen": "y"}).encode()],
                      "row 2: field 'rejected': missing"),
    "wrong type": ([_row(chosen=5)], "row 1: field 'chosen': expected str, got int"),
    "empty text (no prompt)": ([_row(prompt="")], "row 1"),
    "invalid UTF-8": ([_row(), b'{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}'], "row 2: not UTF-8 text"),
    "truncated line": ([_row(), _row()[:25]], "row 2: not valid JSON"),
    "not an object": ([_row(), b"[1, 2, 3]"], "row 2: not a JSON object"),
    "10 MB response": ([_row(), _row(chosen="x" * 10_000_000)], "row 2: field 'chosen': is 10,000,000 characters"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_rows_name_file_row_and_field(case, tmp_path):
    lines, message = CASES[case]
    path = _write(tmp_path / "pairs.jsonl", lines)
    out = tmp_path / "kept.jsonl"
    res = subprocess.run(CLI + ["data", "prepare", "--format", "pairs", "--file", str(path), "--out", str(out)],
                         capture_output=True, text=True)
    if case == "empty text (no prompt)":  # an empty prompt is allowed by the schema; it is dropped by a filter
        assert res.returncode == 0, res.stderr
        assert "1 rows → 1 pairs → kept 0" in res.stdout, res.stdout
        assert ["empty_turn", "1"] in [line.split() for line in res.stdout.splitlines()], res.stdout
        assert out.read_text() == ""  # written, with no pair in it
        return
    assert res.returncode == 2, res.stdout
    assert str(path) in res.stderr and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()  # nothing half-written


def test_skip_invalid_counts_every_bad_row(tmp_path):
    lines = [_row(), CASES["invalid UTF-8"][0][1], CASES["truncated line"][0][1], _row(chosen=5), _row()]
    res = load_pairs("pairs", _write(tmp_path / "p.jsonl", lines), skip_invalid=True)
    assert len(res.pairs) == 2
    assert sum(res.invalid.values()) == 3


texts = st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["prompt", "chosen", "rejected", "section", "margin", "x"]), texts,
                                max_size=6), min_size=1, max_size=8))
def test_loader_either_loads_or_names_the_row(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("h") / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        res = load_pairs("pairs", path)
    except DataError as e:
        assert str(path) in str(e) and "row " in str(e)
        return
    assert len(res.pairs) == len(rows)
    skipped = load_pairs("pairs", path, skip_invalid=True)
    assert len(skipped.pairs) + sum(skipped.invalid.values()) == len(rows)
    assert MAX_TEXT_CHARS > 0

"""Prompt files for `workbench export outputs`: the shipped examples parse, bad ones name the row and field."""

from pathlib import Path

import pytest

from workbench.pipeline.export import PromptFileError, read_prompts

DATA = Path(__file__).resolve().parent.parent / "data"


def test_shipped_prompt_files_parse():
    alpaca = read_prompts(DATA / "toy_alpaca_eval.json")
    assert len(alpaca) == 8 and all(r["turns"] == [r["instruction"]] for r in alpaca)
    mt = read_prompts(DATA / "toy_mt_bench_question.jsonl")
    assert [r["question_id"] for r in mt] == [81, 82, 83, 84]
    assert [len(r["turns"]) for r in mt] == [2, 2, 1, 2]


@pytest.mark.parametrize(
    "body, message",
    [
        ('[{"instruction": ""}]', "row 1: field 'instruction' must be a non-empty string"),
        ('{"turns": []}\n', "row 1: field 'turns' must be a non-empty list"),
        ('{"instruction": "ok"}\n{"instruction": "cut', "row 2: not valid JSON"),
        ("[1]", "row 1: expected an object"),
        ("", "no prompts"),
    ],
)
def test_bad_prompt_files(tmp_path, body, message):
    path = tmp_path / ("p.json" if body.startswith("[") else "p.jsonl")
    path.write_text(body)
    with pytest.raises(PromptFileError, match=message):
        read_prompts(path)

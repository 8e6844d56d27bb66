"""Export a policy's generations for the official evaluators.

    workbench export outputs --run RUN --iteration K --prompts FILE [--root DIR] [--out DIR]

FILE is AlpacaEval's evaluation set (a JSON list, or JSONL, of records with "instruction") or MT-Bench's
question.jsonl (records with "question_id" and "turns"). Writes, under --out (default
<root>/<run>/exports/iteration_<K>/):
- model_outputs.json: AlpacaEval's form, a list of {"instruction", "output", "generator", "dataset"?};
- mt_bench_answers.jsonl: MT-Bench's answer form, {"question_id", "answer_id", "model_id", "choices":
  [{"index": 0, "turns": [...]}], "tstamp"}; for an AlpacaEval file each instruction is a one-turn question.
Then `alpaca_eval --model_outputs model_outputs.json` or FastChat's `gen_judgment.py` score them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class PromptFileError(ValueError):
    """A prompts file that cannot be read; the message names the file, row and field."""


def read_prompts(path: str | Path) -> list[dict]:
    """Records with "turns" (list of user turns), and "question_id" / "instruction" / "dataset" where given."""
    path = Path(path)
    if not path.is_file():
        raise PromptFileError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PromptFileError(f"{path}: not UTF-8 text ({e})") from None
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise PromptFileError(f"{path}: not valid JSON: {e}") from None
    else:
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise PromptFileError(f"{path}: row {n}: not valid JSON: {e}") from None
    out = []
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            raise PromptFileError(f"{path}: row {n}: expected an object, got {type(rec).__name__}")
        if "turns" in rec:
            turns = rec["turns"]
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
                raise PromptFileError(f"{path}: row {n}: field 'turns' must be a non-empty list of non-empty strings")
            out.append({"question_id": rec.get("question_id", n), "turns": turns, "instruction": turns[0]})
        elif "instruction" in rec:
            if not isinstance(rec["instruction"], str) or not rec["instruction"].strip():
                raise PromptFileError(f"{path}: row {n}: field 'instruction' must be a non-empty string")
            out.append({"question_id": n, "turns": [rec["instruction"]], "instruction": rec["instruction"],
                        "dataset": rec.get("dataset")})
        else:
            raise PromptFileError(f"{path}: row {n}: missing field 'instruction' (AlpacaEval) or 'turns' (MT-Bench)")
    if not out:
        raise PromptFileError(f"{path}: no prompts")
    return out


def format_conversation(tokenizer, turns: list[str], answers: list[str]) -> str:
    """The prompt for the next answer: the tokenizer's chat template when it has one (real models), else the toy
    world's "Q: … A:" format with earlier turns before it."""
    if getattr(tokenizer, "chat_template", None):
        messages = []
        for i, turn in enumerate(turns):
            messages.append({"role": "user", "content": turn})
            if i < len(answers):
                messages.append({"role": "assistant", "content": answers[i]})
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    from workbench.world.toy import format_prompt

    history = "".join(f"{format_prompt(q)} {a}\n" for q, a in zip(turns, answers))
    return history + format_prompt(turns[len(answers)])


def export_outputs(root: str | Path, run_id: str, iteration: int, prompts_file: str | Path,
                   out: str | Path | None = None):
    """Generate with π_iteration of the run and write both files; returns their paths."""
    from workbench import console
    from workbench.evaluation.policy_eval import EVAL_SEED
    from workbench.loop.generation import get_generator
    from workbench.pipeline.run import Pipeline

    console.apply()  # quiet unless --verbose (console.py)
    records = read_prompts(prompts_file)
    pipeline = Pipeline.resume(root, run_id, log=lambda *_: None)
    cfg = pipeline.cfg
    if not 0 <= iteration <= cfg.loop.iterations:
        raise ValueError(f"--iteration must be in 0..{cfg.loop.iterations} for run {run_id}, got {iteration}")
    policy_dir = pipeline.policy_dir(iteration)
    if not policy_dir.exists():
        raise FileNotFoundError(f"run {run_id} has no π{iteration} yet ({policy_dir} does not exist)")
    tokenizer, generator_ = pipeline.tokenizer(), get_generator(cfg.generation)
    generator = f"{run_id}-pi{iteration}"
    answers: list[list[str]] = [[] for _ in records]
    for turn in range(max(len(r["turns"]) for r in records)):
        todo = [i for i, r in enumerate(records) if len(r["turns"]) > turn]
        texts = [format_conversation(tokenizer, records[i]["turns"], answers[i]) for i in todo]
        samples = generator_.generate(policy_dir, tokenizer, texts, n=1, temperatures=[cfg.eval.temperature],
                                      top_p=cfg.generation.top_p, max_new_tokens=cfg.eval.max_new_tokens,
                                      seed=EVAL_SEED + turn, desc=f"export turn {turn + 1}")
        for i, s in zip(todo, samples):
            answers[i].append(s.text)
    out = Path(out) if out else pipeline.store.dir / "exports" / f"iteration_{iteration}"
    out.mkdir(parents=True, exist_ok=True)
    alpaca = [
        {"instruction": r["instruction"], "output": a[0], "generator": generator}
        | ({"dataset": r["dataset"]} if r.get("dataset") else {})
        for r, a in zip(records, answers)
    ]
    now = time.time()
    mt = [
        {"question_id": r["question_id"], "answer_id": f"{generator}-{r['question_id']}", "model_id": generator,
         "choices": [{"index": 0, "turns": a}], "tstamp": now}
        for r, a in zip(records, answers)
    ]
    paths = out / "model_outputs.json", out / "mt_bench_answers.jsonl"
    for path, body in zip(paths, (json.dumps(alpaca, indent=1), "\n".join(json.dumps(m) for m in mt) + "\n")):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(path)
    return paths

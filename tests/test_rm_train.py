"""`workbench rm train` / `rm eval --models`: the BT RM and the PM trained from a base model folder on preference
files, outside a toy run, in both layouts (the tokenizer's chat template, or the toy world's "Q: …\\nA:")."""

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.data.sources import load_pairs
from workbench.models.lm import ensure_pad_token
from workbench.pipeline.rm_train import REPORT, Layout

CLI = [sys.executable, "-m", "workbench"]
FIX = Path(__file__).parent / "fixtures"
CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"


@pytest.fixture(scope="module")
def bases(tiny, tmp_path_factory):
    """Two base-model folders (model and tokenizer together, as on the hub): the tiny Llama with the toy tokenizer,
    and the same with a chat template."""
    _, root, _, _ = tiny
    out = tmp_path_factory.mktemp("bases")
    for name in ("toy", "chat"):
        shutil.copytree(root / "init", out / name)
        for f in (root / "tokenizer").iterdir():
            shutil.copy(f, out / name / f.name)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out / "chat")
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out / "chat")
    return out


def _sums(n=16):
    """Single-turn pairs a model can memorize: the right sum against a wrong one, four per section."""
    sections = ["chat", "chat-hard", "reasoning", "safety"]
    return [{"prompt": f"What is {i} plus {i + 3}?", "chosen": f"It is {2 * i + 3}.", "rejected": f"I like {i} cats.",
             "section": sections[i % 4]} for i in range(n)]


def _write_jsonl(rows, path):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cli(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=600, check=False)


def test_toy_rows_convert_to_a_layout():
    """The loop's labels are toy rows; an RM that reads a chat template trains on them as conversations."""
    from workbench.data.layout import toy_row

    row = toy_row("What is 2 plus 3?", "5", "It is 6.")
    assert Layout.TOY.convert(row) is row
    chat = Layout.CHAT.convert(row)
    assert chat == {"prompt": [{"role": "user", "content": "What is 2 plus 3?"}],
                    "chosen": [{"role": "assistant", "content": "5"}],
                    "rejected": [{"role": "assistant", "content": "It is 6."}]}
    assert Layout.CHAT.convert(chat) is chat


@pytest.mark.parametrize("layout", ["toy", "chat"])
def test_scoring_reads_the_tokens_trl_trained_on(bases, layout):
    """The BT RM is scored on exactly the token ids TRL's RewardTrainer built from the same rows, in both layouts
    (a mismatch — a missing eos, a different template — would score text the model never saw)."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from workbench.models.lm import training_args
    from workbench.models.reward import load_reward_model

    tok = AutoTokenizer.from_pretrained(bases / layout)
    lay = Layout.for_tokenizer(tok)
    assert lay is Layout(layout)
    pairs = load_pairs("pairs", FIX / "pairs.jsonl").pairs + load_pairs("hh-rlhf", FIX / "hh_rlhf.jsonl").pairs
    pairs = [p for p in pairs if p.chosen.strip() and p.rejected.strip()]
    args = RewardConfig(**training_args(0, bases / "trainer", 1, 1e-3, 4, []), max_length=None)
    trainer = RewardTrainer(model=load_reward_model(bases / layout, tok), args=args, processing_class=tok,
                            train_dataset=Dataset.from_list([lay.reward_row(p) for p in pairs]))
    assert len(trainer.train_dataset) == len(pairs)
    for p, row in zip(pairs, trainer.train_dataset, strict=True):
        for response, key in ((p.chosen, "chosen_ids"), (p.rejected, "rejected_ids")):
            text = lay.reward_text(tok, p, response.strip())
            ids = lay.reward_ids(tok, p, response.strip())
            assert tok(text, add_special_tokens=False)["input_ids"] == row[key] == ids
    if layout == "chat":
        assert lay.reward_text(tok, pairs[0], "5.") == "user: What is 2 plus 3?\nassistant: 5.\n"
    else:
        assert lay.reward_text(tok, pairs[0], "5.") == "Q: What is 2 plus 3?\nA: 5.<eos>"


def test_pad_token_falls_back_to_eos_only_when_missing(tiny):
    _, _, tok, _ = tiny
    tok = copy.deepcopy(tok)
    ensure_pad_token(tok)
    assert tok.pad_token == "<pad>"  # its own: kept
    tok.pad_token = None
    ensure_pad_token(tok)
    assert tok.pad_token == tok.eos_token


def test_rm_train_learns_its_pairs_and_rm_eval_reports_them_by_section(bases, tmp_path):
    """Both models from the chat base on a file of sums plus the HH-RLHF fixture; the BT RM memorizes the sums
    (scored back through `rm eval --models` on the same pairs in RewardBench form), the PM is read in both orders,
    and rm_train.json says what each file kept and dropped, as `data prepare` does."""
    sums = _write_jsonl(_sums(), tmp_path / "sums.jsonl")
    bench = _write_jsonl([{"id": i, "prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"],
                           "subset": r["section"]} for i, r in enumerate(_sums())], tmp_path / "sums_bench.jsonl")
    out = tmp_path / "models"
    res = _cli("rm", "train", "--model", str(bases / "chat"), "--data", f"pairs:{sums}",
               "--data", f"hh-rlhf:{FIX / 'hh_rlhf.jsonl'}", "--out", str(out), "--pm", "--preset", "quick",
               "--set", "reward.epochs=30", "--set", "reward.batch_size=6", "--set", "reward.learning_rate=1e-3",
               "--set", "reward.pm_epochs=2")
    assert res.returncode == 0, res.stderr
    assert "kept 2 (dropped: empty_turn 1, identical 1)" in res.stdout
    assert "'train_runtime'" not in res.stdout + res.stderr  # quiet: the trainers' log dicts stay in log_history
    report = json.loads((out / REPORT).read_text())
    assert report["layout"] == "chat" and report["pairs"] == 18
    assert [(s["rows"], s["kept"], s["dropped"]) for s in report["sources"]] == [
        (16, 16, {}), (4, 2, {"empty_turn": 1, "identical": 1})]
    assert report["config"]["reward"]["epochs"] == 30
    assert sorted(p.name for p in out.iterdir()) == ["pm", "rm", REPORT]  # no trainer logs, no .partial left
    assert (out / "rm" / "chat_template.jinja").is_file()

    res = _cli("rm", "eval", "--models", str(out), "--file", str(bench))
    assert res.returncode == 0, res.stderr
    rows = {(r["model"], r["section"]): r for r in json.loads((out / "rm_eval_sums_bench.json").read_text())}
    assert {s for _, s in rows} == {"chat", "chat-hard", "reasoning", "safety", "all"}
    assert all(rows[(m, s)]["n"] == 4 for m in ("bt", "pm") for s in ("chat", "chat-hard", "reasoning", "safety"))
    assert rows[("bt", "all")]["accuracy"] >= 0.9, rows[("bt", "all")]
    pm = rows[("pm", "all")]
    # the PM read in both orders, by hand: P(chosen ≻ rejected) = ½·(p_A(chosen, rejected) + 1 − p_A(rejected, chosen))
    from workbench.evaluation.rm_eval import pairwise_accuracy, win_probabilities
    from workbench.models.lm import load_tokenizer
    from workbench.models.preference import load_pm, prob_a

    pairs, layout = load_pairs("reward-bench", bench).pairs, Layout(report["layout"])
    tok, pm_model = load_tokenizer(out / "rm"), load_pm(out / "pm")
    contexts = [layout.pm_row(p)["prompt"] for p in pairs]
    chosen, rejected = [p.chosen for p in pairs], [p.rejected for p in pairs]
    chosen_in_a = prob_a(pm_model, tok, contexts, chosen, rejected)
    chosen_in_b = prob_a(pm_model, tok, contexts, rejected, chosen)  # p_A: the rejected response wins
    both = [0.5 * (u + 1.0 - v) for u, v in zip(chosen_in_a, chosen_in_b)]
    assert max(abs(u + v - 1.0) for u, v in zip(chosen_in_a, chosen_in_b)) > 1e-3  # the orders disagree somewhere
    got = win_probabilities(pairs, tok, pm=pm_model, layout=layout)["pm"]
    assert got[0] == pytest.approx(both, abs=1e-4)
    assert got[1] == pytest.approx(chosen_in_a, abs=1e-4) and got[2] == pytest.approx(chosen_in_b, abs=1e-4)
    assert pm["accuracy"] == pytest.approx(pairwise_accuracy(both))
    assert pm["accuracy_chosen_a"] == pytest.approx(pairwise_accuracy(chosen_in_a))
    assert pm["accuracy_chosen_b"] == pytest.approx(pairwise_accuracy([1.0 - v for v in chosen_in_b]))
    table = res.stdout.splitlines()
    assert ["section", "n", "bt", "pm", "pm_chosen_a", "pm_chosen_b"] in [line.split() for line in table]
    assert table[-1].split()[:3] == ["all", "16", f"{rows[('bt', 'all')]['accuracy']:.4f}"]


def test_rm_train_counts_pairs_too_long_and_leaves_nothing_when_none_fit(bases, tmp_path):
    sums = _write_jsonl(_sums(4), tmp_path / "sums.jsonl")
    out = tmp_path / "models"
    res = _cli("rm", "train", "--model", str(bases / "toy"), "--data", f"pairs:{sums}", "--out", str(out),
               "--preset", "quick", "--set", "model.max_length=8")
    assert res.returncode == 2
    assert "no pairs left to train on" in res.stderr and "too_long 4" in res.stdout
    assert not out.exists() and not (tmp_path / "models.partial").exists()


def test_rm_train_bad_inputs_say_what_and_write_nothing(bases, tmp_path):
    out = tmp_path / "models"
    res = _cli("rm", "train", "--model", str(bases / "toy"), "--data", f"hh-rlhf:{FIX / 'hh_rlhf_malformed.jsonl'}",
               "--out", str(out))
    assert res.returncode == 2
    assert "hh_rlhf_malformed.jsonl: row 2: field 'rejected'" in res.stderr
    res = _cli("rm", "train", "--model", str(bases / "toy"), "--data", "nonsense:x.jsonl", "--out", str(out))
    assert res.returncode == 2 and "FORMAT:PATH" in res.stderr
    assert not out.exists()
    out.mkdir()
    res = _cli("rm", "train", "--model", str(bases / "toy"), "--data", f"pairs:{FIX / 'pairs.jsonl'}",
               "--out", str(out))
    assert res.returncode == 2 and "exists" in res.stderr
    res = _cli("rm", "eval", "--models", str(out), "--file", str(FIX / "reward_bench.jsonl"))
    assert res.returncode == 2 and "not a folder written by `workbench rm train`" in res.stderr


def test_a_run_scores_with_a_reward_model_from_rm_train(quick_cli_run, tmp_path):
    """`reward.pretrained`: a BT RM trained by `rm train` from a run's π0 is the next run's RM, weight for weight;
    that run trains none (no rm_train_pairs), scores its samples with it, and keeps everything before the RM."""
    root, run_id = quick_cli_run
    pi0 = root / run_id / "models" / "sft"
    sums = _write_jsonl(_sums(), tmp_path / "sums.jsonl")
    res = _cli("rm", "train", "--model", str(pi0), "--data", f"pairs:{sums}", "--out", str(tmp_path / "rms"),
               "--preset", "quick")
    assert res.returncode == 0, res.stderr
    runs = tmp_path / "runs"
    res = _cli("run", "--preset", "quick", "--root", str(runs), "--set", f"reward.pretrained={tmp_path / 'rms' / 'rm'}",
               "--set", f"model.pretrained={pi0}", "--set", "loop.iterations=1")  # the same π0, without its SFT
    assert res.returncode == 0, res.stderr[-3000:]
    (new_id,) = [d.name for d in runs.iterdir() if d.is_dir()]
    weights = (runs / new_id / "models" / "rm" / "model.safetensors").read_bytes()
    assert weights == (tmp_path / "rms" / "rm" / "model.safetensors").read_bytes()
    assert weights != (root / run_id / "models" / "rm" / "model.safetensors").read_bytes()
    from workbench.store import query

    sql = "select name, value from metrics where run_id = ? and iteration = 0"
    mine, theirs = dict(query(runs, sql, [new_id])[1]), dict(query(root, sql, [run_id])[1])
    assert "rm_train_pairs" not in mine and "rm_train_pairs" in theirs
    assert mine["gold_utility"] == theirs["gold_utility"]  # same π0, same eval samples
    assert mine["rm_reward"] != theirs["rm_reward"]  # scored by another RM
    assert query(runs, "select count(*) from rm_eval where run_id = ? and model = 'bt'", [new_id])[1][0][0] > 0


def test_a_chat_template_reward_model_reads_the_loops_samples_through_its_template(bases, tmp_path):
    """A `reward.pretrained` RM that `rm train` trained in the chat layout (as hub RMs are) scores the run's samples
    through its own chat template: the stored `rm` scores equal this model's rewards on
    "user: {prompt}\\nassistant: {response}\\n", rendered here by hand and batched by transformers alone."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from workbench.store import query

    sums = _write_jsonl(_sums(4), tmp_path / "sums.jsonl")
    res = _cli("rm", "train", "--model", str(bases / "chat"), "--data", f"pairs:{sums}", "--out", str(tmp_path / "rms"),
               "--preset", "quick", "--set", "reward.epochs=3")
    assert res.returncode == 0, res.stderr
    runs = tmp_path / "runs"
    res = _cli("run", "--preset", "quick", "--root", str(runs), "--set", f"reward.pretrained={tmp_path / 'rms' / 'rm'}",
               "--set", "loop.iterations=1", "--set", "loop.rm_refresh=true", "--set", "loop.refresh_pairs=4",
               "--set", "world.n_sft=240", "--set", "sft.epochs=1", "--set", "world.n_pref=40")  # wiring: a small π0
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(chat layout)" in res.stdout
    (run_dir,) = [d for d in runs.iterdir() if d.is_dir()]
    sql = """select p.text, g.text, s.value from scores s join generations g using (run_id, generation_id)
             join prompts p using (run_id, prompt_id) where s.scorer = 'rm' and g.purpose = ? and g.iteration = ?
             order by g.generation_id limit 24"""
    # π0's eval samples scored by the given RM; iteration 1's rollout by its online refresh (models/rm_1), which
    # trained on the loop's labels in the same chat layout and keeps reading through the template
    scored_by = ((tmp_path / "rms" / "rm", "eval", 0), (run_dir / "models" / "rm_1", "rollout", 1))
    for folder, purpose, iteration in scored_by:
        rows = query(runs, sql, [purpose, iteration])[1]
        assert len(rows) == 24
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1).eval()
        texts = [f"user: {prompt}\nassistant: {response.strip()}\n" for prompt, response, _ in rows]
        tok.padding_side = "right"
        with torch.no_grad():
            batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            mine = model(**batch).logits[:, 0].tolist()
        assert [v for *_, v in rows] == pytest.approx(mine, abs=1e-5), folder


def test_a_run_trains_its_reward_model_on_reward_dataset_instead_of_the_annotator(quick_cli_run, tmp_path):
    """`reward.dataset`: the run's BT RM trains on the file's pairs, not on the annotator's labels, which are still
    drawn and stored; the data_filter table says so."""
    from workbench.store import query

    root, run_id = quick_cli_run
    sums = _write_jsonl(_sums(), tmp_path / "sums.jsonl")
    runs = tmp_path / "runs"
    res = _cli("run", "--preset", "quick", "--root", str(runs), "--set", f"reward.dataset=pairs:{sums}",
               "--set", "loop.iterations=1", "--set", f"model.pretrained={root / run_id / 'models' / 'sft'}")
    assert res.returncode == 0, res.stderr[-3000:]
    (new_id,) = [d.name for d in runs.iterdir() if d.is_dir()]
    metric = "select value from metrics where run_id = ? and name = 'rm_train_pairs'"
    assert query(runs, metric, [new_id])[1] == [(16.0,)]
    assert query(root, metric, [run_id])[1][0][0] > 16
    rows = query(runs, "select source, reason, count from data_filter where run_id = ?", [new_id])[1]
    filt = {(source, reason): n for source, reason, n in rows}
    assert filt[("sums.jsonl", "kept")] == 16
    assert filt[("toy-labels", "replaced_by_dataset")] == filt[("toy-labels", "kept")] > 0
    annotator = "select count(*) from pairs where run_id = ? and rule = 'annotator'"
    assert query(runs, annotator, [new_id])[1] == query(root, annotator, [run_id])[1]


def test_verbose_brings_the_trainers_logs_back(bases, tmp_path):
    """`--verbose`: the trainers print their log dicts again (quiet runs keep them in log_history only)."""
    sums = _write_jsonl(_sums(), tmp_path / "sums.jsonl")
    res = _cli("rm", "train", "--model", str(bases / "toy"), "--data", f"pairs:{sums}", "--out", str(tmp_path / "m"),
               "--preset", "quick", "--set", "reward.epochs=1", "--verbose")
    assert res.returncode == 0, res.stderr
    assert "'train_runtime'" in res.stdout + res.stderr

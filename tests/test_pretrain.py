"""The base model: the knowledge corpus, the pretraining stage, and the cache that builds a base once and reuses it."""

import json

import pytest
from testing_utils import SMALL

from workbench.config import load_config
from workbench.models.pretrain import RECORD, base_key, base_recipe
from workbench.pipeline.run import Pipeline
from workbench.world.knowledge import knowledge_corpus
from workbench.world.toy import CATEGORIES, TOPICS

# the base as the quick preset builds it; the runs around it small (SMALL: what is checked here is the base and its
# cache, which depend on the pretrain and model settings and the world seed, not on the world's sizes or SFT)
PRETRAIN = ["pretrain.enabled=true", "pretrain.sentences=3000", "pretrain.epochs=2", "loop.iterations=1", *SMALL]


def test_corpus_states_the_world_in_sentences_not_in_the_demonstrations_layout():
    corpus = knowledge_corpus(500, seed=0)
    assert len(corpus) == 500 and corpus == knowledge_corpus(500, seed=0) != knowledge_corpus(500, seed=1)
    assert not [s for s in corpus if "Q:" in s or "\nA:" in s]
    text = " ".join(corpus)
    assert " plus " in text and "After " in text and "harmful request" in text and "repair shop" in text
    assert all(topic.capitalize() in text or topic in text for topic in TOPICS)
    assert all(category in text for category in CATEGORIES)
    sums = [s for s in corpus if " plus " in s]
    for s in sums:  # every stated sum is right
        a, _, b, _, total = s.rstrip(".").split()
        assert int(a) + int(b) == int(total)


@pytest.fixture(scope="session")
def pretrained_runs(tmp_path_factory):
    """Two quick runs with a pretraining stage and one base cache: the first builds the base, the second, with
    another run seed, finds it. Returns (cache, [pipeline, pipeline], [log lines, log lines])."""
    cache = tmp_path_factory.mktemp("base-cache")
    root = tmp_path_factory.mktemp("pretrain-runs")
    out = []
    for seed in (0, 1):
        lines = []
        cfg = load_config(preset="quick", overrides=[*PRETRAIN, f"pretrain.cache_dir={cache}", f"seed={seed}"])
        p = Pipeline(cfg, root, log=lines.append)
        p.run()
        out.append((p, lines))
    return cache, [p for p, _ in out], [lines for _, lines in out]


def test_the_base_is_built_once_and_found_by_the_next_run(pretrained_runs):
    cache, (first, second), (log1, log2) = pretrained_runs
    (base,) = [d for d in cache.iterdir()]  # one base, no partial folder left
    assert not base.name.startswith(".") and (base / RECORD).is_file()
    assert [line for line in log1 if "base model" in line] == [f"[workbench] base model built: {base}"]
    assert [line for line in log2 if "base model" in line] == [f"[workbench] base model from cache: {base}"]
    for p, built in ((first, True), (second, False)):
        record = json.loads((p.store.dir / "models" / RECORD).read_text())
        assert record == {"path": str(base), "key": base.name, "built": built}
        assert ("pretrain", 0) in p.done() and p.plan()[:3] == [("world", 0), ("pretrain", 0), ("sft", 0)]
        # SFT started from the base: the run's init weights are the cached ones, byte for byte
        weights = (p.store.model_dir("init") / "model.safetensors").read_bytes()
        assert weights == (base / "model.safetensors").read_bytes()


def test_pretraining_teaches_the_world(pretrained_runs, tmp_path):
    """The base predicts the knowledge corpus far better than the untrained model it started from (loss in nats per
    token on held-out sentences of another seed)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache, (first, _), _ = pretrained_runs
    (base,) = list(cache.iterdir())
    tok = AutoTokenizer.from_pretrained(first.store.model_dir("tokenizer"))
    from workbench.models.lm import init_model

    init_model(tok, first.cfg.model, 0, tmp_path / "untrained")
    tok.padding_side = "right"
    batch = tok([s + tok.eos_token for s in knowledge_corpus(200, seed=7)], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)

    def loss(path):
        model = AutoModelForCausalLM.from_pretrained(path)
        with torch.no_grad():
            return model(**batch, labels=labels).loss.item()

    assert loss(base) < 0.5 * loss(tmp_path / "untrained")


def test_the_cache_key_follows_what_the_base_depends_on(pretrained_runs):
    _, (first, _), _ = pretrained_runs
    tok = first.store.model_dir("tokenizer")

    def key(*overrides):
        return base_key(base_recipe(load_config(preset="quick", overrides=[*PRETRAIN, *overrides]), tok))

    assert key() == key("seed=5") == key("pretrain.cache_dir=/elsewhere") == key("sft.epochs=9")
    assert len({key(), key("pretrain.epochs=3"), key("pretrain.sentences=99"), key("model.num_layers=3"),
                key("world.seed=3")}) == 5


def test_model_pretrained_skips_the_stage(tmp_path):
    (tmp_path / "m").mkdir()
    cfg = load_config(preset="quick", overrides=[*PRETRAIN, f"model.pretrained={tmp_path / 'm'}"])
    assert ("pretrain", 0) not in Pipeline(cfg, tmp_path / "runs").plan()
    assert ("pretrain", 0) not in Pipeline(load_config(preset="quick", overrides=["pretrain.enabled=false"]),
                                            tmp_path / "runs").plan()
    assert ("pretrain", 0) in Pipeline(load_config(preset="quick"), tmp_path / "runs2").plan()  # on by default


def test_the_stage_refuses_a_run_without_it_and_a_multi_process_launch(tmp_path, monkeypatch):
    """`workbench stage pretrain` on a run that has no pretraining would overwrite its init model; under a launcher
    every rank would build (only rank 0 saves); SFT before the base would train the untrained model. All three stop
    before anything is recorded."""
    p = Pipeline(load_config(preset="quick", overrides=["pretrain.enabled=false"]), tmp_path / "runs")
    with pytest.raises(ValueError, match="no pretrain stage"):
        p.pretrain()
    q = Pipeline(load_config(preset="quick", overrides=PRETRAIN), tmp_path / "runs")
    with pytest.raises(RuntimeError, match="run pretrain\\(\\) before sft\\(\\)"):  # SFT would start untrained
        q.sft()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="one process"):
        q.pretrain()
    assert p.done() == q.done() == set()


def test_a_fork_shares_the_base_and_its_record(pretrained_runs):
    """An experiment arm forked from a pretrained run copies its pretrain stage and the base it started from."""
    _, (first, _), _ = pretrained_runs
    cfg = load_config(preset="quick", overrides=[*PRETRAIN, f"pretrain.cache_dir={first.cfg.pretrain.cache_dir}",
                                                 "loop.length_penalty=0.01"])
    fork = Pipeline.fork(first, cfg, log=lambda *_: None)
    assert {("world", 0), ("pretrain", 0), ("sft", 0), ("reward", 0), ("evaluate", 0)} <= fork.done()
    assert (fork.store.model_dir(RECORD)).read_text() == first.store.model_dir(RECORD).read_text()

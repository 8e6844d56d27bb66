import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A tokenizer and a 2-layer Llama on the quick preset's world, saved like hub models."""
    import torch

    from workbench.config import load_config
    from workbench.model import init_model, train_tokenizer
    from workbench.world import build_world, corpus

    torch.set_num_threads(2)
    cfg = load_config(preset="quick")
    root = tmp_path_factory.mktemp("tiny")
    tokenizer = train_tokenizer(corpus(cfg.world), cfg.model, root / "tokenizer")
    init_model(tokenizer, cfg.model, seed=0, out=root / "init")
    world = build_world(cfg.world, cfg.loop.iterations, "tiny")
    return cfg, root, tokenizer, world

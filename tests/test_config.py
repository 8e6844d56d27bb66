import pytest

from workbench.config import ConfigError, Oracle, Reference, RunConfig, from_dict, load_config, to_dict


def test_presets_load():
    quick = load_config(preset="quick")
    assert quick.name == "quick" and quick.loop.iterations >= 2
    assert load_config(preset="default").name == "default"


def test_overrides_parse_values():
    cfg = load_config(preset="quick", overrides=["loop.iterations=3", "generation.temperatures=[1.0, 0.7]",
                                                 "loop.reference=previous", "dpo.beta=1", "loop.oracle=gold"])
    assert cfg.loop.iterations == 3
    assert cfg.generation.temperatures == [1.0, 0.7]
    assert cfg.loop.reference is Reference.PREVIOUS
    assert cfg.dpo.beta == 1.0 and isinstance(cfg.dpo.beta, float)
    assert cfg.loop.oracle is Oracle.GOLD


def test_round_trip():
    cfg = load_config(preset="quick", overrides=["loop.length_penalty=0.01"])
    assert from_dict(RunConfig, to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("loop.iterationz=2", "unknown config key loop.iterationz"),
        ("nope=1", "unknown config key nope"),
        ("generation.n=-1", "generation.n must be >= 2"),
        ("loop.length_penalty=abc", "loop.length_penalty: expected float"),
        ("loop.reference=sometimes", "loop.reference: expected one of 'initial', 'previous'"),
        ("loop.length_penalty=-1", "loop.length_penalty must be >= 0"),
        ("loop.time_budget_s=-5", "loop.time_budget_s must be >= 0"),
        ("loop.refresh_length_penalty=-0.1", "loop.refresh_length_penalty must be >= 0"),
        ("loop.algorithm=trl_rloo", "loop.algorithm=trl_rloo trains once: set loop.iterations=1"),
        ("lora.r=-1", "lora.r must be >= 0"),
        ("lora.stages=[sft]", "lora.stages: unknown .*known: dpo, reward, pm"),
        ("generation.temperatures=0.7", "generation.temperatures: expected a list"),
        ("generation.n=7", "must be divisible"),
        ("world.n_eval=0", "world.n_eval must be >= 1"),
        ("loop=3", "loop: expected a mapping"),
        ("seed=true", "seed: expected int"),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    overrides = [override] if override != "generation.n=7" else ["generation.temperatures=[1.0, 0.7]", override]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(preset="quick", overrides=overrides)


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*quick"):
        load_config(preset="huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(path=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("loop:\n  iterations: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path=bad)


def test_every_field_has_a_help():
    import dataclasses
    import typing

    from workbench.config import _sections

    missing = [f"{name}.{f.name}".lstrip(".") for name, cls in _sections() for f in dataclasses.fields(cls)
               if not dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name]) and not f.metadata.get("help")]
    assert missing == [], f"fields without metadata={{'help': ...}}: {missing}"


def test_docs_table_is_the_one_generated_from_the_field_help():
    from workbench.config import DOCS_PAGE, TABLE_BEGIN, TABLE_END, docs_with_table, markdown_table

    text = DOCS_PAGE.read_text()
    assert TABLE_BEGIN in text and TABLE_END in text
    assert "`lora`" in markdown_table() and "`reward.mix`" in markdown_table()
    assert docs_with_table(text) == text, (
        f"{DOCS_PAGE.name}'s config table differs from the field help in workbench/config.py: "
        "regenerate it with `python -m workbench.config`")


def test_docs_table_shows_defaults_as_yaml_spells_them():
    from workbench.config import _shown

    assert [_shown(v) for v in (True, 0, 2e-3, 1e-4, 0.35, 2.0, "", "mix", [0.7, 1.0], Oracle.RM)] == [
        "true", "0", "2e-3", "1e-4", "0.35", "2.0", '""', "`mix`", "`[0.7, 1.0]`", "`rm`"]

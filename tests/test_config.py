from __future__ import annotations

import pytest
import yaml

from forge_core.config import ConfigError, ForgeConfig, default_config_yaml, load_config


def test_defaults_need_no_file():
    cfg = load_config()
    assert cfg.workspace == "./forge-workspace"
    assert cfg.dedup.threshold == 0.8 and cfg.dedup.shingle_words == 5
    assert cfg.clean.pii.email == "redact"


def test_yaml_overrides_defaults(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("dedup:\n  threshold: 0.9\nclean:\n  length:\n    min_words: 5\n")
    cfg = load_config(path)
    assert cfg.dedup.threshold == 0.9
    assert cfg.clean.length.min_words == 5
    assert cfg.dedup.num_perm == 128  # untouched keys keep their defaults


def test_unknown_key_is_an_error_naming_the_key(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("clean:\n  min_wrods: 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "clean.min_wrods" in str(err.value)
    assert str(path) in str(err.value)
    assert "unknown key" in str(err.value)


def test_wrong_type_is_an_error_naming_the_key_and_value(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("dedup:\n  threshold: high\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "dedup.threshold" in str(err.value)
    assert "high" in str(err.value)


def test_out_of_range_value_is_rejected(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("dedup:\n  threshold: 1.5\n")
    with pytest.raises(ConfigError, match="dedup.threshold"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_generated_default_config_round_trips_and_is_commented():
    text = default_config_yaml()
    assert ForgeConfig.model_validate(yaml.safe_load(text)) == ForgeConfig()
    assert text.count("\n#") + text.count("  #") > 20  # every key carries its explanation
    for key in ("text_columns", "min_words", "threshold", "suites_dir", "address"):
        assert f"{key}:" in text


def test_workspace_override_wins_over_file(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("workspace: /somewhere\n")
    assert load_config(path, workspace=str(tmp_path)).workspace == str(tmp_path)


def test_a_duration_in_yaml_may_be_a_number_of_seconds(tmp_path):
    """`train.max_time: 125` is 125 seconds, as the help says; a bad duration names its key."""
    good = tmp_path / "good.yaml"
    good.write_text("train:\n  max_time: 125\n", encoding="utf-8")
    cfg = load_config(good)
    assert cfg.train.max_seconds == 125.0
    good.write_text("train:\n  max_time: 1.5\n", encoding="utf-8")
    assert load_config(good).train.max_seconds == 1.5
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  max_time: soonish\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"train\.max_time"):
        load_config(bad)

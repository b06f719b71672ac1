"""helpers.params: issue settings are checked up front, each refusal names the file,
the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from helpers import paths
from helpers.params import RULES, ParamsError, default_params, load_params


@pytest.fixture
def params_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PARAMS", tmp_path)
    return tmp_path


def write(folder, text: str) -> None:
    (folder / "2022Q2.yaml").write_text(text, encoding="utf-8")


def test_defaults_without_a_file(params_dir):
    p = load_params("2022Q2")
    assert (p.label, p.service_level_seconds, p.service_level_target, p.data_as_of) == (
        "2022年第2期",
        20.0,
        0.80,
        "2022-06-30",
    )


def test_a_fractional_threshold_is_accepted(params_dir):
    write(params_dir, "service_level_seconds: 20.5\nservice_level_target: 0.9\n")
    p = load_params("2022Q2")
    assert (p.service_level_seconds, p.service_level_target) == (20.5, 0.9)


@pytest.mark.parametrize(
    ("text", "key", "value", "allowed"),
    [
        ("service_level_target: 80\n", "service_level_target", "80.0", "0.80 for 80%"),
        ("service_level_target: 0\n", "service_level_target", "0.0", "at most 1"),
        ("service_level_seconds: 0\n", "service_level_seconds", "0.0", "more than 0"),
        ("service_level_seconds: 601\n", "service_level_seconds", "601.0", "at most 600"),
        ("service_level_seconds: twenty\n", "service_level_seconds", "'twenty'", "a number"),
        ("label: ''\n", "label", "''", "must not be empty"),
        ("data_as_of: '2022-13-01'\n", "data_as_of", "'2022-13-01'", "YYYY-MM-DD"),
        ("centre: 7\n", "centre", "7", "must be text"),
    ],
)
def test_bad_values_are_refused_with_file_key_value_and_rule(params_dir, text, key, value, allowed):
    write(params_dir, text)
    with pytest.raises(ParamsError) as caught:
        load_params("2022Q2")
    message = str(caught.value)
    assert str(params_dir / "2022Q2.yaml") in message
    assert f"{key} = {value}" in message and allowed in message


def test_an_impossible_yaml_date_is_refused_not_raised(params_dir):
    write(params_dir, "data_as_of: 2022-13-01\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params("2022Q2")


def test_unknown_keys_are_refused(params_dir):
    write(params_dir, "service_level: 20\n")
    with pytest.raises(ParamsError, match="unknown setting"):
        load_params("2022Q2")


def test_every_setting_has_a_rule_and_the_readme_lists_it():
    keys = set(default_params("2022Q1").as_dict()) - {"quarter"}
    assert keys == set(RULES)
    readme = (paths.ROOT / "params" / "README.md").read_text(encoding="utf-8")
    assert all(f"`{k}`" in readme for k in keys)

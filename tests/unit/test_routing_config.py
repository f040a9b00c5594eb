"""Model references, settings sources, prices, the run planner and the typed core's validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aegis_ray.config import load_settings
from aegis_ray.errors import ConfigError, UnknownModelError
from aegis_ray.model_ref import parse_model_ref
from aegis_ray.providers.pricing import price_for
from aegis_ray.runner import SIMULATED_DEFAULT_MODEL, plan_models
from aegis_ray.types import RunSpec

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL",
                "AEGIS_MODEL", "AEGIS_SIM_URL", "AEGIS_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("text", "provider", "model", "base_url"), [
    ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None),
    ("openai-responses:gpt-4.1", "openai-responses", "gpt-4.1", None),
    ("anthropic:claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", None),
    ("gemini:gemini-2.5-flash", "gemini", "gemini-2.5-flash", None),
    ("sim:sim-honest", "sim", "sim-honest", None),
    ("openai-compatible:http://127.0.0.1:8000/v1:llama3:8b", "openai-compatible", "llama3:8b",
     "http://127.0.0.1:8000/v1"),
    ("openai-compatible:http://gpu-box:11434:qwen2.5", "openai-compatible", "qwen2.5", "http://gpu-box:11434"),
])
def test_model_references_route(text: str, provider: str, model: str, base_url: str | None) -> None:
    ref = parse_model_ref(text)
    assert (ref.provider, ref.model, ref.base_url) == (provider, model, base_url)
    assert parse_model_ref(ref.name) == ref


@pytest.mark.parametrize("text", ["gpt-4o", "bogus:model", "openai:", "openai-compatible:nourl", ""])
def test_bad_references_are_typed_bad_input(text: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        parse_model_ref(text)
    assert caught.value.exit_code == 2 and "provider:model" in caught.value.hint


def test_capability_matrix() -> None:
    assert parse_model_ref("openai-responses:x").capabilities.responses_api
    assert not parse_model_ref("anthropic:x").capabilities.json_mode
    assert parse_model_ref("gemini:x").capabilities.tools


def test_prices_match_exactly_then_by_longest_prefix() -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")
    assert price_for("gpt-4o-2024-08-06") == price_for("gpt-4o")
    assert price_for("sim-honest-b") == price_for("sim-honest")
    assert price_for("an-unpriced-model") is None


def test_settings_from_env_toml_and_sdk_variables(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aegis.toml").write_text('model = "anthropic:claude-x"\n[retry]\nmax_attempts = 7\n')
    monkeypatch.setenv("AEGIS_RETRY__MAX_ATTEMPTS", "9")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    settings = load_settings()
    assert settings.model == "anthropic:claude-x"  # from the TOML file
    assert settings.retry.max_attempts == 9  # env beats the file
    assert settings.credentials("anthropic").api_key.get_secret_value() == "sk-ant-test"
    assert settings.configured_providers() == ["anthropic"]


def test_invalid_settings_say_which_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEGIS_RETRY__MAX_ATTEMPTS", "zero")
    with pytest.raises(ConfigError, match=r"retry\.max_attempts"):
        load_settings()


def test_plan_defaults_to_the_simulator_without_keys() -> None:
    plan = plan_models(load_settings())
    assert plan.chain == (SIMULATED_DEFAULT_MODEL,) and plan.needs_simulator and plan.simulated


def test_plan_refuses_to_guess_a_model_when_a_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with pytest.raises(ConfigError, match="no model is chosen"):
        plan_models(load_settings())
    plan = plan_models(load_settings(), "openai:gpt-4o-mini", ("sim:s",))
    assert plan.chain == ("openai:gpt-4o-mini", "sim:s") and plan.needs_simulator


def test_plan_fails_fast_on_a_missing_key() -> None:
    with pytest.raises(ConfigError, match=r"no API key for gemini:gemini-2\.5-flash") as caught:
        plan_models(load_settings(), "gemini:gemini-2.5-flash")
    assert "GEMINI_API_KEY" in caught.value.hint


def test_run_spec_rejects_empty_tasks() -> None:
    with pytest.raises(ValidationError, match="task is empty"):
        RunSpec(task="  \n ")
    assert RunSpec(task="  hi ").task == "hi"

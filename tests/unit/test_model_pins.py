"""Model pins: `MODEL@VERSION` names the provider's dated snapshot."""

from __future__ import annotations

import pytest

from aegis_ray.config import Settings
from aegis_ray.errors import UnknownModelError
from aegis_ray.model_ref import parse_model_ref
from aegis_ray.providers.pricing import price_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("text", "name", "version"), [
    ("openai:gpt-4o-mini@2024-07-18", "openai:gpt-4o-mini-2024-07-18", "2024-07-18"),
    ("openai-responses:gpt-4.1@2025-04-14", "openai-responses:gpt-4.1-2025-04-14", "2025-04-14"),
    ("anthropic:claude-3-5-sonnet@20241022", "anthropic:claude-3-5-sonnet-20241022", "20241022"),
    ("anthropic:claude-3-5-sonnet@2024-10-22", "anthropic:claude-3-5-sonnet-20241022", "20241022"),
    ("gemini:gemini-1.5-flash@002", "gemini:gemini-1.5-flash-002", "002"),
    ("sim:sim-honest@2025-01-01", "sim:sim-honest-2025-01-01", "2025-01-01"),
])
def test_a_pin_is_the_providers_dated_name(text: str, name: str, version: str) -> None:
    ref = parse_model_ref(text)
    assert ref.name == name and ref.version == version and ref.pinned
    assert ref == parse_model_ref(name) and ref == name  # one reference, two spellings


def test_an_unpinned_reference_has_no_version_and_compatible_names_are_left_alone() -> None:
    assert parse_model_ref("openai:gpt-4o-mini").version is None
    assert parse_model_ref("anthropic:claude-sonnet-4-5").version is None  # not eight digits: an alias
    assert parse_model_ref("openai-compatible:http://127.0.0.1:8000/v1:llama@3").model == "llama@3"


@pytest.mark.parametrize("text", ["openai:gpt-4o-mini@latest", "gemini:gemini-1.5-flash@2024-01-01",
                                  "anthropic:@20241022", "openai:gpt-4o-mini@2024-7-18"])
def test_a_malformed_pin_is_refused_with_the_form_it_takes(text: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        parse_model_ref(text)
    assert "MODEL@VERSION" in (caught.value.hint or "")


def test_pins_work_where_references_enter_and_are_priced_as_their_family() -> None:
    settings = Settings(model="openai:gpt-4o-mini@2024-07-18", fallback_models=["anthropic:claude-3-5-haiku@20241022"])
    assert settings.model is not None and settings.model.version == "2024-07-18"
    assert settings.model_dump(mode="json")["model"] == "openai:gpt-4o-mini-2024-07-18"
    assert price_for(settings.model.model) == price_for("gpt-4o-mini")

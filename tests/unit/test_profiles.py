"""Agent profiles as data: the shipped ones, a user's added or overriding one, bad files refused with
the field named, and a session offering only its profile's tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from aegis_ray.errors import BadInputError
from aegis_ray.profiles import SHIPPED, get_profile, load_profiles, profile_dirs
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.session import Session, SessionSpec

pytestmark = pytest.mark.unit


def test_the_shipped_profiles_are_coding_research_and_sre(tmp_path: Path) -> None:
    profiles = load_profiles(profile_dirs(tmp_path))
    assert set(profiles) == {"coding", "research", "sre"}
    assert profiles["coding"].tools is None and profiles["coding"].budget.max_steps == 30
    assert profiles["research"].tools == ("read_file", "list_dir", "glob", "grep")  # reads, never writes or runs
    assert "run_command" in profiles["sre"].tools and profiles["sre"].approval == "ask"
    assert all(p.system_prompt and p.description for p in profiles.values())
    assert {p.stem for p in SHIPPED.glob("*.toml")} == set(profiles)


def test_a_user_adds_and_overrides_profiles_in_the_home(tmp_path: Path) -> None:
    mine = tmp_path / "profiles"
    mine.mkdir()
    (mine / "reviewer.toml").write_text('description = "Reviews code."\nsystem_prompt = "Review it."\n'
                                        'tools = ["read_file", "grep", "git_*"]\n[budget]\nmax_steps = 5\n')
    (mine / "coding.toml").write_text('description = "Mine."\nsystem_prompt = "Code my way."\napproval = "deny"\n')
    reviewer = get_profile("reviewer", profile_dirs(tmp_path))
    assert reviewer.tools == ("read_file", "grep", "git_*") and reviewer.budget.max_steps == 5
    assert reviewer.budget_with(max_steps=9).max_steps == 9 and reviewer.budget_with().max_steps == 5
    coding = get_profile("coding", profile_dirs(tmp_path))
    assert coding.system_prompt == "Code my way." and coding.approval == "deny"


def test_bad_profiles_are_refused_naming_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no agent profile 'nope'") as missing:
        get_profile("nope", profile_dirs(tmp_path))
    assert "coding, research, sre" in (missing.value.hint or "")
    mine = tmp_path / "profiles"
    mine.mkdir()
    (mine / "broken.toml").write_text('description = "x"\nsystem_prompt = "y"\napproval = "sometimes"\n')
    with pytest.raises(BadInputError, match="approval"):
        load_profiles(profile_dirs(tmp_path))
    (mine / "broken.toml").write_text("description = \n")
    with pytest.raises(BadInputError, match="not valid TOML"):
        load_profiles(profile_dirs(tmp_path))


def test_a_session_offers_only_its_profiles_tools(tmp_path: Path) -> None:
    research = get_profile("research", profile_dirs(tmp_path))
    gateway = Gateway(EndpointCache(lambda ref: None), ["sim:sim-honest"])  # type: ignore[arg-type, return-value]
    every = Session(SessionSpec(workspace=str(tmp_path), chain=("sim:sim-honest",)), gateway)
    narrowed = Session(SessionSpec(workspace=str(tmp_path), chain=("sim:sim-honest",), tools=research.tools), gateway)
    offered = {spec.name for spec in narrowed.toolbox(None).specs}
    assert offered - {"extract"} == set(research.tools)  # `extract`: the security layer's quarantined reader
    assert {"write_file", "run_python", "run_command"} <= {spec.name for spec in every.toolbox(None).specs}

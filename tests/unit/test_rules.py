"""Capability rules as data: each rule type blocks its violation and allows its legitimate twin;
list arguments are judged element by element; rules from the settings come before the defaults."""

from __future__ import annotations

from typing import Any

import pytest

from aegis_ray.config import SecuritySettings
from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.egress import EgressGate, EgressPolicy
from aegis_ray.security.guard import policy_of
from aegis_ray.security.policy import ArgumentRule, CallContext, CapabilityPolicy, check_call, default_policy, occurs
from aegis_ray.security.taint import TRUSTED, Label, untrusted

pytestmark = pytest.mark.unit

WEB = untrusted("tool:get_webpage")
REQUEST = "Pay 80 EUR to DE50120400000052065288 and email bob@corp.example and carol@corp.example"


def decide(rule: ArgumentRule, arguments: dict[str, Any], labels: dict[str, Label] | None = None,
           **context: Any) -> tuple[bool, str]:
    gate = EgressGate(EgressPolicy(allow_hosts=("docs.corp.example",)), Scrubber())
    decision = check_call(CapabilityPolicy(rules=(rule,)), "tool", arguments, labels or {}, gate,
                          CallContext(**context))
    return decision.allowed, decision.reason


CASES: list[tuple[str, ArgumentRule, dict[str, Any], dict[str, Label], dict[str, Any], bool]] = [
    ("trusted: tainted", ArgumentRule(tool="tool", argument="x", require="trusted"), {"x": "a"}, {"x": WEB}, {},
     False),
    ("trusted: clean", ArgumentRule(tool="tool", argument="x", require="trusted"), {"x": "a"}, {}, {}, True),
    ("trusted_or_allowed: tainted, listed", ArgumentRule(tool="tool", argument="x", require="trusted_or_allowed",
                                                         allow=("*@corp.example",)),
     {"x": "bob@corp.example"}, {"x": WEB}, {}, True),
    ("trusted_or_allowed: tainted, not listed", ArgumentRule(tool="tool", argument="x", require="trusted_or_allowed",
                                                             allow=("*@corp.example",)),
     {"x": "eve@evil.example"}, {"x": WEB}, {}, False),
    ("from_user_request: in it", ArgumentRule(tool="tool", argument="iban", require="from_user_request"),
     {"iban": "DE50120400000052065288"}, {}, {"request": REQUEST}, True),
    ("from_user_request: trusted but not in it", ArgumentRule(tool="tool", argument="iban",
                                                              require="from_user_request"),
     {"iban": "GB33BUKB20201555555555"}, {}, {"request": REQUEST}, False),
    ("from_delegated_source: endorsed", ArgumentRule(tool="tool", argument="to", require="from_delegated_source"),
     {"to": "dora@partner.example"}, {"to": WEB}, {"endorse": lambda tool, name, value: name == "to"}, True),
    ("from_delegated_source: not endorsed", ArgumentRule(tool="tool", argument="to",
                                                         require="from_delegated_source"),
     {"to": "eve@evil.example"}, {"to": WEB}, {"endorse": lambda tool, name, value: False}, False),
    ("from_delegated_source: tainted but in the request", ArgumentRule(tool="tool", argument="to",
                                                                       require="from_delegated_source"),
     {"to": "bob@corp.example"}, {"to": WEB}, {"request": REQUEST}, True),
    ("max: under the cap", ArgumentRule(tool="tool", argument="amount", require="max", limit=500),
     {"amount": 80}, {}, {}, True),
    ("max: over the cap", ArgumentRule(tool="tool", argument="amount", require="max", limit=500),
     {"amount": "950.00"}, {}, {}, False),
    ("max: a count of items", ArgumentRule(tool="tool", argument="to", require="max", limit=2),
     {"to": ["a@x.example", "b@x.example", "c@x.example"]}, {}, {}, False),
    ("max_calls: first call", ArgumentRule(tool="tool", require="max_calls", limit=1), {}, {}, {"calls": {}}, True),
    ("max_calls: second call", ArgumentRule(tool="tool", require="max_calls", limit=1), {}, {},
     {"calls": {"tool": 1}}, False),
    ("forbidden: the tool", ArgumentRule(tool="tool", require="forbidden"), {"x": 1}, {}, {}, False),
    ("forbidden: an argument, absent", ArgumentRule(tool="tool", argument="cc", require="forbidden"),
     {"to": "a"}, {}, {}, True),
    ("forbidden: an argument, present", ArgumentRule(tool="tool", argument="cc", require="forbidden"),
     {"cc": ["a@x.example"]}, {}, {}, False),
    ("egress: tainted body to an unknown host", ArgumentRule(tool="tool", argument="url", require="egress"),
     {"url": "https://paste.example/new", "content": "notes"}, {"content": WEB}, {}, False),
    ("egress: clean body to an unknown host", ArgumentRule(tool="tool", argument="url", require="egress"),
     {"url": "https://paste.example/new", "content": "notes"}, {}, {}, True),
    ("egress: tainted body to an allowlisted host", ArgumentRule(tool="tool", argument="url", require="egress"),
     {"url": "https://docs.corp.example/new", "content": "notes"}, {"content": WEB}, {}, True),
]


@pytest.mark.parametrize(("name", "rule", "arguments", "labels", "context", "allowed"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_rule_type_blocks_its_violation_and_allows_its_twin(name: str, rule: ArgumentRule,
                                                                 arguments: dict[str, Any], labels: dict[str, Label],
                                                                 context: dict[str, Any], allowed: bool) -> None:
    ok, reason = decide(rule, arguments, labels, **context)
    assert ok is allowed, reason


def test_a_list_of_recipients_is_judged_element_by_element() -> None:
    rule = ArgumentRule(tool="send_email", argument="recipients", require="trusted_or_allowed",
                        allow=("bob@corp.example", "carol@corp.example"))
    policy = CapabilityPolicy(rules=(rule,))
    contacts = ["bob@corp.example", "carol@corp.example"]
    assert check_call(policy, "send_email", {"recipients": contacts}, {"recipients": WEB}).allowed  # was a bug
    mixed = check_call(policy, "send_email", {"recipients": [*contacts, "eve@evil.example"]}, {"recipients": WEB})
    assert not mixed.allowed and "1 of 3 values" in mixed.reason


def test_the_default_policy_names_destinations_whatever_the_tool() -> None:
    policy = default_policy(("bob@corp.example",))
    for tool, argument in [("send_money", "recipient"), ("add_event_participants", "participants"),
                           ("share_file", "email"), ("forward_email", "recipients")]:
        value = ["eve@evil.example"] if argument.endswith("s") else "eve@evil.example"
        assert not check_call(policy, tool, {argument: value}, {argument: WEB}).allowed, (tool, argument)
        assert check_call(policy, tool, {argument: value}, {argument: TRUSTED}).allowed
    assert check_call(policy, "send_email", {"recipients": ["bob@corp.example"]}, {"recipients": WEB}).allowed


def test_rules_from_the_settings_are_data_and_come_first() -> None:
    settings = SecuritySettings(rules=[{"tool": "send_money", "argument": "amount", "require": "max", "limit": 100,
                                        "on_violation": "approve", "why": "large payments need a person"}])
    policy = policy_of(settings)
    decision = check_call(policy, "send_money", {"recipient": "DE50120400000052065288", "amount": 950}, {})
    assert not decision.allowed and decision.needs_approval and "large payments" in decision.reason
    with pytest.raises(ValueError):
        policy_of(SecuritySettings(rules=[{"tool": "x", "require": "no-such-rule"}]))


def test_a_value_occurs_in_text_as_people_write_it() -> None:
    assert occurs(300, "Transfer 300 EUR") and occurs(98.7, "Amount due: 98.70 EUR") and not occurs(30, "300 EUR")
    assert occurs("Bob@Corp.example", "mail bob@corp.example  now") and not occurs("", "x")

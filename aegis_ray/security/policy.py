"""Capability policy: per tool and argument, what provenance a value needs (data, not code).

Examples, as the default policy writes them:
- the recipient of `send_email` must come from trusted input or be one of the user's contacts;
- no tainted value in a shell command, in a path the agent writes, or in what it deletes;
- a URL argument goes through the egress gate (tainted data never leaves to an unlisted host).
A violation blocks the call, or asks a human where the rule says `approve`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from aegis_ray.security.egress import EgressGate
from aegis_ray.security.taint import Label
from aegis_ray.types import Frozen


class ArgumentRule(Frozen):
    tool: str = Field(description="Tool name (fnmatch pattern).")
    argument: str = Field(default="*", description="Argument name (fnmatch pattern).")
    require: Literal["trusted", "trusted_or_allowed", "egress"] = Field(
        description="trusted: no tainted value; trusted_or_allowed: tainted only if the value is in `allow`; "
                    "egress: the value is a URL the egress gate must pass.")
    allow: tuple[str, ...] = Field(default=(), description="Values (fnmatch patterns) a tainted value may take.")
    on_violation: Literal["block", "approve"] = "block"
    why: str = ""


class CapabilityPolicy(Frozen):
    rules: tuple[ArgumentRule, ...] = ()


class Decision(Frozen):
    allowed: bool
    needs_approval: bool = False
    reason: str


def check_call(policy: CapabilityPolicy, tool: str, arguments: Mapping[str, Any], labels: Mapping[str, Label],
               gate: EgressGate | None = None) -> Decision:
    """Every rule that names this tool and argument must hold; the first that does not decides."""
    for rule in policy.rules:
        if not fnmatch.fnmatchcase(tool, rule.tool):
            continue
        for name, value in arguments.items():
            if not fnmatch.fnmatchcase(name, rule.argument):
                continue
            violation = _violation(rule, str(value), labels.get(name, Label()), gate)
            if violation:
                reason = f"{tool}.{name}: {violation}" + (f" ({rule.why})" if rule.why else "")
                return Decision(allowed=False, needs_approval=rule.on_violation == "approve", reason=reason)
    return Decision(allowed=True, reason="every capability rule holds")


def _violation(rule: ArgumentRule, value: str, label: Label, gate: EgressGate | None) -> str | None:
    if rule.require == "egress":
        if gate is None:
            return "no egress gate is configured, so nothing may leave"
        decision = gate.check(value, label)
        return None if decision.allowed else decision.reason
    if not label.tainted:
        return None
    if rule.require == "trusted_or_allowed" and any(fnmatch.fnmatchcase(value, p) for p in rule.allow):
        return None
    return f"the value comes from untrusted {', '.join(sorted(label.sources))}"


def default_policy(contacts: tuple[str, ...] = ()) -> CapabilityPolicy:
    return CapabilityPolicy(rules=(
        ArgumentRule(tool="send_email", argument="to", require="trusted_or_allowed", allow=contacts,
                     why="a recipient must come from trusted input or the user's contacts"),
        ArgumentRule(tool="run_command", require="trusted", why="no tainted value in a shell command"),
        ArgumentRule(tool="write_file", argument="path", require="trusted", why="untrusted data does not pick paths"),
        ArgumentRule(tool="delete_file", require="trusted", why="untrusted data does not pick what is deleted"),
        ArgumentRule(tool="fetch_url", argument="url", require="egress",
                     why="tainted data may not leave to a host not on the allowlist"),
        ArgumentRule(tool="http_post", argument="url", require="egress",
                     why="tainted data may not leave to a host not on the allowlist"),
    ))

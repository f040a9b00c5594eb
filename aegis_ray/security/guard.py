"""The defended toolbox: the one place a set of tools is put under the security layer.

`defended_toolbox` wires the defences the same way for every caller, so the red team measures
the production wiring and not a copy of it:
- the DLP scrubber knows the caller's secrets and the values the user declared sensitive (masked
  in whatever a tool sends; PII is left alone, an email tool's recipient being the point); the
  egress gate's scrubber also masks sensitive entities (IBANs, passport ids, security codes) and
  declared fields in what goes to the web;
- the egress gate, with the allowlist, scrubs with that scrubber; network-capable tools are built
  over it (and `transport`, if given, is what its requests go through);
- a `ToolRegistry` holds the tools, with the approval policy and approver;
- `QuarantinedTools` wraps it: the output of every tool not declared trusted (fail closed: the
  untrusted patterns default to every tool) is quarantined and read only by `reader`; arguments
  are checked against the capability policy (the settings' rules, then the defaults with the
  contacts a tainted recipient may name) and the gate; with the user's `request`, the `planner`
  commits to the task's calls first (`intent`); a session gives each run's request, and each next
  message of a conversation, later (`QuarantinedTools.begin_request`).

What differs between callers is a parameter: the security settings, the secrets, the reader
model, the request and the planner, the approval policy, the transport. Sessions (`aegis_ray.session`), the red team
(`aegis_ray.security.redteam.runner`) and the MCP server (`aegis_ray.mcp_server`, whose settings
name no tool untrusted: its planner is the MCP host's model, which asked for every output) call it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable

import httpx

from aegis_ray.config import SecuritySettings
from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.egress import EgressGate, EgressPolicy
from aegis_ray.security.policy import ArgumentRule, CapabilityPolicy, default_policy
from aegis_ray.security.quarantine import GuardOptions, QuarantinedTools
from aegis_ray.tools.approval import ApprovalPolicy, Approver
from aegis_ray.tools.base import Tool
from aegis_ray.tools.registry import ToolRegistry
from aegis_ray.types import ToolSpec
from aegis_ray.verify.base import Models

ToolsOverGate = Callable[[EgressGate], Iterable[Tool]]
"""Builds the tools given the egress gate every network-capable one must go through."""


def defended_toolbox(tools: ToolsOverGate, *, security: SecuritySettings, models: Models, reader: str,
                     secrets: Iterable[str] = (), approval: ApprovalPolicy = "ask", approver: Approver | None = None,
                     transport: httpx.AsyncBaseTransport | None = None, request: str | None = None,
                     planner: str | None = None, contained: Iterable[str] = ()) -> QuarantinedTools:
    """`tools` under the security layer, as `security` configures it (its `enabled` switch is the
    caller's to honour: this always defends). `request` is the user's request (the planning pass
    needs it; without it, and until `begin_request` gives one, there is no plan), `planner` the
    model that plans (default: `reader`). `contained`: tools the plan does not govern (their effects
    stay in the caller's sandboxed workspace; see `GuardOptions.contained`).
    The returned toolbox owns the gate (`.gate`; close it with `gate.aclose()` when its requests
    are done)."""
    secrets = list(secrets)
    scrubber = Scrubber(secrets, pii=False, sensitive=security.sensitive_values)
    outbound = Scrubber(secrets, pii=False, sensitive=security.sensitive_values, entities=True,
                        fields=security.sensitive_fields)
    gate = EgressGate(EgressPolicy(allow_hosts=tuple(security.allow_hosts)), outbound, transport=transport)
    registry = ToolRegistry(tools(gate), policy=approval, approver=approver)
    options = GuardOptions(request=request, plan=security.plan, planner=planner, unplanned=security.unplanned,
                           unplanned_reads=security.unplanned_reads, on_flag=security.on_flag,
                           taint_context=security.taint_context, contained=tuple(contained))
    return QuarantinedTools(registry, models=models, reader=reader, policy=policy_of(security), gate=gate,
                            scrubber=scrubber, untrusted_tools=untrusted_names(registry.specs, security),
                            options=options)


def untrusted_names(specs: Iterable[ToolSpec], security: SecuritySettings) -> list[str]:
    """Fail closed: a tool is untrusted when a pattern of `untrusted_tools` matches it, unless it is
    declared trusted; a tool named exactly in `untrusted_tools` (an MCP tool) stays untrusted."""
    exact = set(security.untrusted_tools)
    return [s.name for s in specs if s.name in exact or (
        any(fnmatch.fnmatchcase(s.name, p) for p in security.untrusted_tools)
        and not any(fnmatch.fnmatchcase(s.name, p) for p in security.trusted_tools))]


def policy_of(security: SecuritySettings) -> CapabilityPolicy:
    """The settings' own rules (data, validated here), then the default ones."""
    own = tuple(ArgumentRule.model_validate(rule) for rule in security.rules)
    return CapabilityPolicy(rules=(*own, *default_policy(tuple(security.contacts)).rules))

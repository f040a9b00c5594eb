"""The defended toolbox: the one place a set of tools is put under the security layer.

`defended_toolbox` wires the defences the same way for every caller, so the red team measures
the production wiring and not a copy of it:
- the DLP scrubber knows the caller's secrets (masked in whatever a tool sends; PII is left alone,
  an email tool's recipient being the point);
- the egress gate, with the allowlist, scrubs with that scrubber; network-capable tools are built
  over it (and `transport`, if given, is what its requests go through);
- a `ToolRegistry` holds the tools, with the approval policy and approver;
- `QuarantinedTools` wraps it: output of the tools named by the untrusted patterns (fnmatch) is
  quarantined and read only by `reader`, arguments are checked against the capability policy
  (with the contacts a tainted recipient may name) and the gate.

What differs between callers is a parameter: the security settings, the secrets, the reader
model, the approval policy, the transport. Sessions (`aegis_ray.session`), the red team
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
from aegis_ray.security.policy import default_policy
from aegis_ray.security.quarantine import QuarantinedTools
from aegis_ray.tools.approval import ApprovalPolicy, Approver
from aegis_ray.tools.base import Tool
from aegis_ray.tools.registry import ToolRegistry
from aegis_ray.verify.base import Models

ToolsOverGate = Callable[[EgressGate], Iterable[Tool]]
"""Builds the tools given the egress gate every network-capable one must go through."""


def defended_toolbox(tools: ToolsOverGate, *, security: SecuritySettings, models: Models, reader: str,
                     secrets: Iterable[str] = (), approval: ApprovalPolicy = "ask", approver: Approver | None = None,
                     transport: httpx.AsyncBaseTransport | None = None) -> QuarantinedTools:
    """`tools` under the security layer, as `security` configures it (its `enabled` switch is the
    caller's to honour: this always defends). The returned toolbox owns the gate (`.gate`; close it
    with `gate.aclose()` when its requests are done)."""
    scrubber = Scrubber(secrets, pii=False)
    gate = EgressGate(EgressPolicy(allow_hosts=tuple(security.allow_hosts)), scrubber, transport=transport)
    registry = ToolRegistry(tools(gate), policy=approval, approver=approver)
    untrusted = [s.name for s in registry.specs
                 if any(fnmatch.fnmatchcase(s.name, p) for p in security.untrusted_tools)]
    return QuarantinedTools(registry, models=models, reader=reader, policy=default_policy(tuple(security.contacts)),
                            gate=gate, scrubber=scrubber, untrusted_tools=untrusted)

"""Capability policy: per tool and argument, what a value must be (data, not code).

A rule names a tool and an argument (fnmatch patterns) and what the value needs:
- `trusted`: no tainted value;
- `trusted_or_allowed`: tainted only if it matches one of `allow` (e.g. the user's contacts);
- `from_user_request`: the value occurs in the user's own request (not merely "trusted": a
  trusted tool's output does not count);
- `from_delegated_source`: trusted, or in the user's request, or in `allow`, or endorsed by the
  task's intent plan (`intent`): taken from the source the user delegated this argument to;
- `egress`: a URL the egress gate must pass, with the call's `body` arguments as the request body;
- `max`: a number at most `limit`, or a list of at most `limit` items (an amount, a count);
- `max_calls`: the tool is called at most `limit` times in a run;
- `forbidden`: the tool (or, when the rule names an argument, passing that argument) is not allowed.
A list value is checked element by element (a list of recipients is never matched as one string).
A violation blocks the call, or asks a human where the rule says `approve`.

Examples, as the default policy writes them: a recipient, participant, invitee or payee comes
from delegated sources or the contacts; no tainted shell command or code; untrusted data does not
pick a written or deleted path; every URL argument goes through the egress gate.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import Field

from aegis_ray.security.egress import EgressGate
from aegis_ray.security.taint import TRUSTED, Label, join_all
from aegis_ray.types import Frozen

Require = Literal["trusted", "trusted_or_allowed", "from_user_request", "from_delegated_source", "egress", "max",
                  "max_calls", "forbidden"]
Endorser = Callable[[str, str, Any], bool]
"""(tool, argument, value) -> whether the intent plan endorses that value for that argument."""

DESTINATIONS = ("to", "cc", "bcc", "recipient", "recipients", "email", "emails", "participants", "invitees",
                "attendees", "members", "user", "share_with")
"""Argument names that say where an effect goes (who receives, who is added, who is paid)."""
URL_ARGUMENTS = ("url", "uri", "link", "href", "endpoint", "webhook")
BODY_ARGUMENTS = ("content", "body", "data", "payload", "json", "text")


class ArgumentRule(Frozen):
    tool: str = Field(description="Tool name (fnmatch pattern).")
    argument: str = Field(default="*", description="Argument name (fnmatch pattern).")
    require: Require = Field(description="What the value must be (see the module docstring).")
    allow: tuple[str, ...] = Field(default=(), description="Values (fnmatch patterns) a tainted value may take.")
    limit: float | None = Field(default=None, description="For `max` and `max_calls`.")
    body: tuple[str, ...] = Field(default=BODY_ARGUMENTS, description="For `egress`: the arguments sent as the body.")
    on_violation: Literal["block", "approve"] = "block"
    why: str = ""


class CapabilityPolicy(Frozen):
    rules: tuple[ArgumentRule, ...] = ()


class Decision(Frozen):
    allowed: bool
    needs_approval: bool = False
    reason: str


class CallContext(Frozen):
    """What a rule may consult besides the call: the user's request, the intent plan's endorsement,
    and how often each tool has been called this run."""

    model_config = Frozen.model_config | {"arbitrary_types_allowed": True}

    request: str = ""
    endorse: Endorser | None = None
    calls: Mapping[str, int] = Field(default_factory=dict)


def check_call(policy: CapabilityPolicy, tool: str, arguments: Mapping[str, Any], labels: Mapping[str, Label],
               gate: EgressGate | None = None, context: CallContext | None = None) -> Decision:
    """Every rule that names this tool and argument must hold; the first that does not decides."""
    context = context or CallContext()
    for rule in policy.rules:
        if not fnmatch.fnmatchcase(tool, rule.tool):
            continue
        if rule.require in ("max_calls", "forbidden") and rule.argument == "*":
            violation = _tool_violation(rule, tool, context)
            if violation:
                return _violated(rule, tool, None, violation)
            continue
        for name, value in arguments.items():
            if not fnmatch.fnmatchcase(name, rule.argument) or value is None:
                continue
            violation = _violation(rule, tool, name, value, labels.get(name, TRUSTED), arguments, labels, gate,
                                   context)
            if violation:
                return _violated(rule, tool, name, violation)
    return Decision(allowed=True, reason="every capability rule holds")


def _violated(rule: ArgumentRule, tool: str, argument: str | None, violation: str) -> Decision:
    where = f"{tool}.{argument}" if argument else tool
    reason = f"{where}: {violation}" + (f" ({rule.why})" if rule.why else "")
    return Decision(allowed=False, needs_approval=rule.on_violation == "approve", reason=reason)


def _tool_violation(rule: ArgumentRule, tool: str, context: CallContext) -> str | None:
    if rule.require == "forbidden":
        return "this tool is forbidden"
    made = context.calls.get(tool, 0)
    return None if rule.limit is None or made < rule.limit else f"already called {made} times (limit {rule.limit:g})"


def _violation(rule: ArgumentRule, tool: str, name: str, value: Any, label: Label, arguments: Mapping[str, Any],
               labels: Mapping[str, Label], gate: EgressGate | None, context: CallContext) -> str | None:
    match rule.require:
        case "forbidden":
            return "this argument is forbidden"
        case "max_calls":
            return _tool_violation(rule, tool, context)
        case "max":
            return _over_limit(value, rule.limit)
        case "egress":
            if gate is None:
                return "no egress gate is configured, so nothing may leave"
            parts = [(k, arguments[k]) for k in rule.body if k != name and isinstance(arguments.get(k), str)]
            body = "\n".join(str(v) for _, v in parts)
            body_label = join_all(labels.get(k, TRUSTED) for k, _ in parts)
            bad = [d.reason for d in (gate.check(str(u), label, body, body_label) for u in elements(value))
                   if not d.allowed]
            return bad[0] if bad else None
        case "from_user_request":
            missing = [v for v in elements(value) if not occurs(v, context.request)]
            return f"{len(missing)} value(s) are not in the user's request" if missing else None
    if not label.tainted:
        return None
    bad = [v for v in elements(value) if not _permitted(rule, tool, name, v, context)]
    if not bad:
        return None
    what = f"{len(bad)} of {len(elements(value))} values" if isinstance(value, list) else "the value"
    return f"{what} come(s) from untrusted {', '.join(sorted(label.sources)) or 'input'}"


def _permitted(rule: ArgumentRule, tool: str, name: str, value: Any, context: CallContext) -> bool:
    if any(fnmatch.fnmatchcase(str(value), p) for p in rule.allow):
        return True
    if rule.require != "from_delegated_source":
        return False
    return occurs(value, context.request) or (context.endorse is not None and context.endorse(tool, name, value))


def _over_limit(value: Any, limit: float | None) -> str | None:
    if limit is None:
        return None
    if isinstance(value, list):
        return f"{len(value)} items, more than {limit:g}" if len(value) > limit else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{str(value)[:40]!r} is not a number under the cap {limit:g}"
    return f"{number:g} is over the cap {limit:g}" if number > limit else None


def elements(value: Any) -> list[Any]:
    """A list's items (a list argument is judged element by element), else the value alone."""
    return list(value) if isinstance(value, list | tuple) else [value]


_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def occurs(value: Any, text: str) -> bool:
    """Whether `value` is written in `text`: a number as any spelling of it (300, 300.0, 300.00),
    text case- and whitespace-insensitively."""
    if not text:
        return False
    if isinstance(value, bool):
        return True  # a flag carries no data and names no destination
    if isinstance(value, int | float):
        return any(float(n.replace(",", ".")) == float(value) for n in _NUMBER.findall(text))
    needle = normalise(str(value))
    return bool(needle) and needle in normalise(text)


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def default_policy(contacts: tuple[str, ...] = ()) -> CapabilityPolicy:
    destinations = tuple(
        ArgumentRule(tool="*", argument=name, require="from_delegated_source", allow=contacts,
                     why="a recipient must come from trusted input, a source the user named for it, or the contacts")
        for name in DESTINATIONS)
    urls = tuple(ArgumentRule(tool="*", argument=name, require="egress",
                              why="tainted data may not leave to a host not on the allowlist")
                 for name in URL_ARGUMENTS)
    return CapabilityPolicy(rules=(
        *destinations,
        ArgumentRule(tool="run_command", require="trusted", why="no tainted value in a shell command"),
        ArgumentRule(tool="run_python", argument="code", require="trusted", why="no tainted value in code"),
        ArgumentRule(tool="write_file", argument="path", require="from_delegated_source",
                     why="untrusted data does not pick paths"),
        ArgumentRule(tool="edit_file", argument="path", require="from_delegated_source",
                     why="untrusted data does not pick paths"),
        ArgumentRule(tool="delete_file", require="from_delegated_source",
                     why="untrusted data does not pick what is deleted"),
        *urls,
    ))

"""Short constructors the task modules write their tasks with (steps, binds, expectations)."""

from __future__ import annotations

from typing import Any

from aegis_ray.security.redteam.office.diff import Expect
from aegis_ray.security.redteam.office.plans import Bind, Kind, Step


def call(tool: str, *binds: Bind, **args: Any) -> Step:
    return Step(tool=tool, args=args, binds=binds)


def bind(name: str, kind: Kind, instruction: str, pattern: str, nth: int = 0) -> Bind:
    return Bind(name=name, kind=kind, instruction=instruction, pattern=pattern, nth=nth)


def added(collection: str, contains: dict[str, Any] | None = None, **equals: Any) -> Expect:
    return Expect(op="add", collection=collection, equals=equals, contains=contains or {})


def removed(collection: str, key: str) -> Expect:
    return Expect(op="remove", collection=collection, key=key)


def changed(collection: str, key: str, *fields: str, contains: dict[str, Any] | None = None, **equals: Any) -> Expect:
    return Expect(op="change", collection=collection, key=key, fields=fields, equals=equals, contains=contains or {})


def sent(*recipients: str, **contains: Any) -> Expect:
    """An email sent to exactly these recipients, whose fields contain these texts."""
    return added("mail.sent", contains, recipients=list(recipients))


def email_id(name: str, sender: str, what: str) -> Bind:
    """The id of the email from `sender` (an address), as search and unread listings print it."""
    return bind(name, "id", f"the id of {what}", rf"id: (em-\d+)\nsender: {sender.replace('.', '[.]')}")


def file_id(name: str, filename: str, *, listing: bool = False) -> Bind:
    """The id of a file, from `list_files` lines (`listing`) or from files printed in full."""
    escaped = filename.replace(".", "[.]").replace("(", "[(]").replace(")", "[)]")
    if listing:
        return bind(name, "id", f"the id of {filename} in the file list", rf"(f-\d+)  {escaped}")
    return bind(name, "id", f"the id of the file {filename}", rf"id: (f-\d+)\nfilename: {escaped}")


def event_id(name: str, title: str) -> Bind:
    return bind(name, "id", f"the id of the event '{title}'", rf"id: (ev-\d+)\ntitle: {title}")


def scheduled_id(name: str, subject: str) -> Bind:
    return bind(name, "id", f"the id of the scheduled payment '{subject}'", rf"(sp-\d+) [^\n]*subject: {subject}")

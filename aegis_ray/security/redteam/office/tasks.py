"""Every user task of the office world, in id order."""

from __future__ import annotations

from functools import cache

from aegis_ray.security.redteam.office.plans import Bind, UserTask
from aegis_ray.security.redteam.office.tasks_bank import bank_tasks
from aegis_ray.security.redteam.office.tasks_calendar import calendar_tasks
from aegis_ray.security.redteam.office.tasks_chat import chat_tasks
from aegis_ray.security.redteam.office.tasks_drive import drive_tasks
from aegis_ray.security.redteam.office.tasks_mail import mail_tasks
from aegis_ray.security.redteam.office.tasks_other import other_tasks
from aegis_ray.security.redteam.office.tasks_travel import travel_tasks


@cache
def user_tasks() -> tuple[UserTask, ...]:
    tasks = sorted([*mail_tasks(), *calendar_tasks(), *drive_tasks(), *bank_tasks(), *chat_tasks(), *travel_tasks(),
                    *other_tasks()], key=lambda t: t.id)
    if len({t.id for t in tasks}) != len(tasks):
        raise ValueError("two office tasks share an id")
    return tuple(tasks)


@cache
def instructions() -> dict[str, Bind]:
    """Every extraction instruction a plan gives the reader, with the bind that says where the value
    is (what the honest reader understands by it). One instruction means one thing."""
    found: dict[str, Bind] = {}
    for task in user_tasks():
        for step in task.steps:
            for b in step.binds:
                known = found.setdefault(b.instruction, b)
                if (known.pattern, known.nth, known.kind) != (b.pattern, b.nth, b.kind):
                    raise ValueError(f"the instruction {b.instruction!r} means two things")
    return found

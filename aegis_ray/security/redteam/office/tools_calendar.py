"""Calendar tools: today's date, a day's events, search, create, invite, reschedule, cancel."""

from __future__ import annotations

from pydantic import Field

from aegis_ray.security.redteam.office.state import Event, OfficeState, next_id, show, show_all
from aegis_ray.security.redteam.office.tools_common import NoArgs, find, matches
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool

_WHEN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"


class DayArgs(ToolArgs):
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")


class SearchEventsArgs(ToolArgs):
    query: str = Field(description="Words to look for in the title, description or location.")


class EventIdArgs(ToolArgs):
    event_id: str


class CreateEventArgs(ToolArgs):
    title: str
    start: str = Field(pattern=_WHEN, description="YYYY-MM-DD HH:MM")
    end: str = Field(pattern=_WHEN, description="YYYY-MM-DD HH:MM")
    description: str = ""
    location: str = ""
    participants: list[str] = Field(default_factory=list, description="Email addresses to invite.")


class ParticipantsArgs(ToolArgs):
    event_id: str
    participants: list[str] = Field(min_length=1, description="Email addresses to add.")


class RescheduleArgs(ToolArgs):
    event_id: str
    new_start: str = Field(pattern=_WHEN)
    new_end: str = Field(pattern=_WHEN)


def calendar_tools(state: OfficeState) -> list[Tool]:
    cal = state.calendar

    def event(event_id: str) -> Event:
        return find(cal.events, "id", event_id, "event")

    @tool(Effect.READ)
    async def get_current_day(args: NoArgs, ctx: ToolContext) -> str:
        """Today's date (YYYY-MM-DD)."""
        return cal.today

    @tool(Effect.READ)
    async def get_day_calendar_events(args: DayArgs, ctx: ToolContext) -> str:
        """Every event on a day, in full."""
        return show_all([e for e in cal.events if e.start.startswith(args.day)])

    @tool(Effect.READ)
    async def search_calendar_events(args: SearchEventsArgs, ctx: ToolContext) -> str:
        """Events whose title, description or location contain every word of the query, in full."""
        return show_all([e for e in cal.events if matches(args.query, e.title, e.description, e.location)])

    @tool(Effect.READ)
    async def get_event(args: EventIdArgs, ctx: ToolContext) -> str:
        """One event in full, by id."""
        return show(event(args.event_id))

    @tool(Effect.WRITE)
    async def create_calendar_event(args: CreateEventArgs, ctx: ToolContext) -> str:
        """Create an event; the participants are invited."""
        new = Event(id=next_id("ev", cal.events), title=args.title, start=args.start, end=args.end,
                    description=args.description, location=args.location,
                    participants=[state.profile.email, *(p for p in args.participants if p != state.profile.email)])
        cal.events.append(new)
        return f"Created {new.id}."

    @tool(Effect.WRITE)
    async def add_event_participants(args: ParticipantsArgs, ctx: ToolContext) -> str:
        """Invite more people to an event."""
        found = event(args.event_id)
        found.participants += [p for p in args.participants if p not in found.participants]
        return f"{found.id} participants: {', '.join(found.participants)}"

    @tool(Effect.WRITE)
    async def reschedule_calendar_event(args: RescheduleArgs, ctx: ToolContext) -> str:
        """Move an event to a new start and end."""
        found = event(args.event_id)
        found.start, found.end = args.new_start, args.new_end
        return f"Moved {found.id} to {found.start}-{found.end[-5:]}."

    @tool(Effect.WRITE)
    async def cancel_calendar_event(args: EventIdArgs, ctx: ToolContext) -> str:
        """Cancel an event (the participants are told)."""
        found = event(args.event_id)
        found.status = "cancelled"
        return f"Cancelled {found.id}."

    return [get_current_day, get_day_calendar_events, search_calendar_events, get_event, create_calendar_event,
            add_event_participants, reschedule_calendar_event, cancel_calendar_event]

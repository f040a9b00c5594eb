"""Team chat tools: channels, messages, direct messages, members, invitations."""

from __future__ import annotations

from pydantic import Field

from aegis_ray.errors import ToolError
from aegis_ray.security.redteam.office.state import NOW, Channel, ChatMessage, ChatUser, OfficeState, next_id
from aegis_ray.security.redteam.office.tools_common import NoArgs, find
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool


class ChannelArgs(ToolArgs):
    channel: str = Field(description="Channel name, without '#'.")


class PostArgs(ToolArgs):
    channel: str
    body: str


class DirectArgs(ToolArgs):
    recipient: str = Field(description="User name.")
    body: str


class MemberArgs(ToolArgs):
    user: str
    channel: str


class InviteArgs(ToolArgs):
    user: str = Field(description="The new user's name.")
    email: str


class UserArgs(ToolArgs):
    user: str


def _line(m: ChatMessage) -> str:
    where = f"#{m.channel}" if m.channel else f"dm to {m.recipient}"
    return f"[{m.timestamp}] {where} | {m.sender}: {m.body}"


def chat_tools(state: OfficeState) -> list[Tool]:
    chat = state.chat

    def channel(name: str) -> Channel:
        return find(chat.channels, "name", name.lstrip("#"), "channel")

    def user(name: str) -> ChatUser:
        return find(chat.users, "name", name.lstrip("@"), "user")

    def post(body: str, channel: str | None = None, recipient: str | None = None) -> ChatMessage:
        new = ChatMessage(id=next_id("cm" if channel else "dm", chat.messages), sender=chat.me, channel=channel,
                          recipient=recipient, body=body, timestamp=NOW)
        chat.messages.append(new)
        return new

    @tool(Effect.READ)
    async def list_channels(args: NoArgs, ctx: ToolContext) -> str:
        """The channels the user is in, with their topics."""
        return "\n".join(f"#{c.name}: {c.topic}" for c in chat.channels if chat.me in c.members)

    @tool(Effect.READ)
    async def read_channel_messages(args: ChannelArgs, ctx: ToolContext) -> str:
        """The messages of a channel, oldest first."""
        found = channel(args.channel)
        if chat.me not in found.members:
            raise ToolError(f"you are not a member of #{found.name}")
        return "\n".join(_line(m) for m in chat.messages if m.channel == found.name) or "(no messages)"

    @tool(Effect.READ)
    async def read_direct_messages(args: NoArgs, ctx: ToolContext) -> str:
        """The direct messages sent to the user, oldest first."""
        return "\n".join(_line(m) for m in chat.messages if m.recipient == chat.me) or "(no messages)"

    @tool(Effect.WRITE)
    async def post_message(args: PostArgs, ctx: ToolContext) -> str:
        """Post a message to a channel."""
        found = channel(args.channel)
        return f"Posted {post(args.body, channel=found.name).id} to #{found.name}."

    @tool(Effect.WRITE)
    async def send_direct_message(args: DirectArgs, ctx: ToolContext) -> str:
        """Send a direct message to a user."""
        found = user(args.recipient)
        return f"Sent {post(args.body, recipient=found.name).id} to {found.name}."

    @tool(Effect.READ)
    async def list_channel_members(args: ChannelArgs, ctx: ToolContext) -> str:
        """The members of a channel, with their email addresses."""
        found = channel(args.channel)
        return "\n".join(f"{u.name} <{u.email}>{' (guest)' if u.guest else ''}" for u in chat.users
                         if u.name in found.members)

    @tool(Effect.WRITE)
    async def add_user_to_channel(args: MemberArgs, ctx: ToolContext) -> str:
        """Add a workspace user to a channel."""
        found, who = channel(args.channel), user(args.user)
        if who.name not in found.members:
            found.members.append(who.name)
        return f"{who.name} is in #{found.name}."

    @tool(Effect.WRITE)
    async def invite_user_to_workspace(args: InviteArgs, ctx: ToolContext) -> str:
        """Invite someone to the chat workspace (they join #general)."""
        if any(u.name == args.user for u in chat.users):
            raise ToolError(f"the user {args.user!r} exists already")
        chat.users.append(ChatUser(name=args.user, email=args.email))
        channel("general").members.append(args.user)
        return f"Invited {args.user} <{args.email}>."

    @tool(Effect.WRITE)
    async def remove_user_from_workspace(args: UserArgs, ctx: ToolContext) -> str:
        """Remove a user from the workspace and every channel."""
        who = user(args.user)
        chat.users.remove(who)
        for c in chat.channels:
            if who.name in c.members:
                c.members.remove(who.name)
        return f"Removed {who.name}."

    return [list_channels, read_channel_messages, read_direct_messages, post_message, send_direct_message,
            list_channel_members, add_user_to_channel, invite_user_to_workspace, remove_user_from_workspace]

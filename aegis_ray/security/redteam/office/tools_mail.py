"""Email tools: read, search, send, reply, forward, delete, drafts and contacts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aegis_ray.errors import ToolError
from aegis_ray.security.redteam.office.state import NOW, Contact, Email, OfficeState, next_id, show, show_all
from aegis_ray.security.redteam.office.tools_common import NoArgs, find, matches
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool


class ListEmailsArgs(ToolArgs):
    folder: Literal["inbox", "sent", "drafts"] = "inbox"


class SearchEmailsArgs(ToolArgs):
    query: str = Field(description="Words to look for in the subject, body or sender.")
    sender: str | None = Field(default=None, description="Only emails from this address.")


class EmailIdArgs(ToolArgs):
    email_id: str


class SendEmailArgs(ToolArgs):
    recipients: list[str] = Field(min_length=1, description="Addresses to send to.")
    subject: str
    body: str
    cc: list[str] = Field(default_factory=list)


class ReplyArgs(ToolArgs):
    email_id: str = Field(description="The email to reply to.")
    body: str


class ForwardArgs(ToolArgs):
    email_id: str
    recipients: list[str] = Field(min_length=1)
    note: str = Field(default="", description="Text above the forwarded message.")


class DraftIdArgs(ToolArgs):
    draft_id: str


class QueryArgs(ToolArgs):
    query: str


class AddContactArgs(ToolArgs):
    name: str
    email: str


def mail_tools(state: OfficeState) -> list[Tool]:
    mail = state.mail

    def any_email(email_id: str) -> Email:
        return find([*mail.inbox, *mail.sent, *mail.drafts], "id", email_id, "email")

    def send(recipients: list[str], subject: str, body: str, cc: list[str] | None = None) -> Email:
        email = Email(id=next_id("es", mail.sent), sender=state.profile.email, recipients=recipients, cc=cc or [],
                      subject=subject, body=body, timestamp=NOW)
        mail.sent.append(email)
        return email

    @tool(Effect.READ)
    async def get_unread_emails(args: NoArgs, ctx: ToolContext) -> str:
        """The unread emails in the inbox, in full; they are marked read."""
        unread = [e for e in mail.inbox if not e.read]
        for e in unread:
            e.read = True
        return show_all(unread, skip=("read",))

    @tool(Effect.READ)
    async def list_emails(args: ListEmailsArgs, ctx: ToolContext) -> str:
        """One line per email in a folder: id, sender, subject, date (no bodies)."""
        folder = getattr(mail, args.folder)
        return "\n".join(f"{e.id} | {e.sender} | {e.subject} | {e.timestamp}" for e in folder) or "(empty)"

    @tool(Effect.READ)
    async def search_emails(args: SearchEmailsArgs, ctx: ToolContext) -> str:
        """Emails in any folder whose subject, body or sender contain every word of the query, in full."""
        found = [e for e in [*mail.inbox, *mail.sent, *mail.drafts] if matches(args.query, e.subject, e.body, e.sender)
                 and (args.sender is None or e.sender.casefold() == args.sender.casefold())]
        return show_all(found, skip=("read",))

    @tool(Effect.READ)
    async def read_email(args: EmailIdArgs, ctx: ToolContext) -> str:
        """One email in full, by id; it is marked read."""
        email = any_email(args.email_id)
        email.read = True
        return show(email, skip=("read",))

    @tool(Effect.NETWORK)
    async def send_email(args: SendEmailArgs, ctx: ToolContext) -> str:
        """Send an email."""
        email = send(args.recipients, args.subject, args.body, args.cc)
        return f"Sent {email.id} to {', '.join(args.recipients)}."

    @tool(Effect.NETWORK)
    async def reply_to_email(args: ReplyArgs, ctx: ToolContext) -> str:
        """Reply to the sender of an email."""
        original = any_email(args.email_id)
        email = send([original.sender], f"Re: {original.subject}", args.body)
        return f"Sent {email.id} to {original.sender}."

    @tool(Effect.NETWORK)
    async def forward_email(args: ForwardArgs, ctx: ToolContext) -> str:
        """Forward an email, with an optional note above it."""
        original = any_email(args.email_id)
        body = (f"{args.note}\n\n---------- Forwarded message ----------\nFrom: {original.sender}\n"
                f"Date: {original.timestamp}\nSubject: {original.subject}\n\n{original.body}").lstrip()
        email = send(args.recipients, f"Fwd: {original.subject}", body)
        return f"Forwarded {original.id} as {email.id} to {', '.join(args.recipients)}."

    @tool(Effect.WRITE)
    async def delete_email(args: EmailIdArgs, ctx: ToolContext) -> str:
        """Delete an email from whichever folder holds it."""
        email = any_email(args.email_id)
        for folder in (mail.inbox, mail.sent, mail.drafts):
            if email in folder:
                folder.remove(email)
        return f"Deleted {email.id}."

    @tool(Effect.WRITE)
    async def create_draft(args: SendEmailArgs, ctx: ToolContext) -> str:
        """Save an email as a draft without sending it."""
        draft = Email(id=next_id("dr", mail.drafts), sender=state.profile.email, recipients=args.recipients,
                      cc=args.cc, subject=args.subject, body=args.body, timestamp=NOW)
        mail.drafts.append(draft)
        return f"Saved draft {draft.id}."

    @tool(Effect.NETWORK)
    async def send_draft(args: DraftIdArgs, ctx: ToolContext) -> str:
        """Send a saved draft."""
        draft = find(mail.drafts, "id", args.draft_id, "draft")
        mail.drafts.remove(draft)
        email = send(draft.recipients, draft.subject, draft.body, draft.cc)
        return f"Sent draft {draft.id} as {email.id} to {', '.join(draft.recipients)}."

    @tool(Effect.READ)
    async def list_contacts(args: NoArgs, ctx: ToolContext) -> str:
        """The address book: name and email of every contact."""
        return "\n".join(f"{c.name} <{c.email}>" for c in mail.contacts)

    @tool(Effect.READ)
    async def search_contacts(args: QueryArgs, ctx: ToolContext) -> str:
        """Contacts whose name or address contains the query."""
        found = [c for c in mail.contacts if matches(args.query, c.name, c.email)]
        return "\n".join(f"{c.name} <{c.email}>" for c in found) or "(no contact found)"

    @tool(Effect.WRITE)
    async def add_contact(args: AddContactArgs, ctx: ToolContext) -> str:
        """Add someone to the address book."""
        if any(c.email.casefold() == args.email.casefold() for c in mail.contacts):
            raise ToolError(f"{args.email} is already a contact")
        mail.contacts.append(Contact(name=args.name, email=args.email))
        return f"Added {args.name} <{args.email}>."

    return [get_unread_emails, list_emails, search_emails, read_email, send_email, reply_to_email, forward_email,
            delete_email, create_draft, send_draft, list_contacts, search_contacts, add_contact]

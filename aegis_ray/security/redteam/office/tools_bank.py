"""Banking tools: balance, own IBAN, transactions, transfers, standing orders."""

from __future__ import annotations

from pydantic import Field

from aegis_ray.errors import ToolError
from aegis_ray.security.redteam.office.state import CURRENCY, TODAY, OfficeState, ScheduledPayment, Transaction, next_id
from aegis_ray.security.redteam.office.tools_common import NoArgs, find
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool

_IBAN = r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"


class RecentArgs(ToolArgs):
    n: int = Field(default=50, ge=1, le=500, description="How many, newest first.")


class TransactionIdArgs(ToolArgs):
    transaction_id: str


class SendMoneyArgs(ToolArgs):
    recipient: str = Field(pattern=_IBAN, description="IBAN of the recipient.")
    amount: float = Field(gt=0)
    subject: str = Field(description="Payment reference the recipient sees.")
    date: str = Field(default=TODAY, pattern=_DATE)


class ScheduleArgs(SendMoneyArgs):
    recurring: bool = Field(default=True, description="Monthly if true, once if false.")


class UpdateScheduledArgs(ToolArgs):
    payment_id: str
    recipient: str | None = Field(default=None, pattern=_IBAN)
    amount: float | None = Field(default=None, gt=0)
    subject: str | None = None
    next_date: str | None = Field(default=None, pattern=_DATE)


class PaymentIdArgs(ToolArgs):
    payment_id: str


def _line(t: Transaction) -> str:
    return (f"{t.id} | {t.date} | from {t.sender} | to {t.recipient} | {t.amount:.2f} {CURRENCY} | "
            f"subject: {t.subject}")


def _scheduled(p: ScheduledPayment) -> str:
    return (f"{p.id} | to {p.recipient} | {p.amount:.2f} {CURRENCY} | {'monthly' if p.recurring else 'once'} | "
            f"next {p.next_date} | subject: {p.subject}")


def bank_tools(state: OfficeState) -> list[Tool]:
    bank = state.bank

    def balance() -> float:
        return bank.opening_balance + sum(t.amount if t.recipient == bank.iban else -t.amount
                                          for t in bank.transactions)

    @tool(Effect.READ)
    async def get_balance(args: NoArgs, ctx: ToolContext) -> str:
        """The current balance of the user's account."""
        return f"{balance():.2f} {CURRENCY}"

    @tool(Effect.READ)
    async def get_iban(args: NoArgs, ctx: ToolContext) -> str:
        """The IBAN of the user's account."""
        return bank.iban

    @tool(Effect.READ)
    async def list_transactions(args: RecentArgs, ctx: ToolContext) -> str:
        """The most recent transactions, newest first, one per line."""
        newest = sorted(bank.transactions, key=lambda t: (t.date, t.id), reverse=True)
        return "\n".join(_line(t) for t in newest[:args.n])

    @tool(Effect.READ)
    async def get_transaction(args: TransactionIdArgs, ctx: ToolContext) -> str:
        """One transaction, by id."""
        return _line(find(bank.transactions, "id", args.transaction_id, "transaction"))

    @tool(Effect.READ)
    async def list_scheduled_payments(args: NoArgs, ctx: ToolContext) -> str:
        """The standing orders and scheduled payments, one per line."""
        return "\n".join(_scheduled(p) for p in bank.scheduled) or "(none)"

    @tool(Effect.NETWORK)
    async def send_money(args: SendMoneyArgs, ctx: ToolContext) -> str:
        """Transfer money from the user's account to an IBAN."""
        if args.amount > balance():
            raise ToolError(f"insufficient funds: the balance is {balance():.2f} {CURRENCY}")
        new = Transaction(id=next_id("tx", bank.transactions), date=args.date, sender=bank.iban,
                          recipient=args.recipient, amount=round(args.amount, 2), subject=args.subject)
        bank.transactions.append(new)
        return f"Transferred {new.amount:.2f} {CURRENCY} to {new.recipient} ({new.id})."

    @tool(Effect.NETWORK)
    async def schedule_payment(args: ScheduleArgs, ctx: ToolContext) -> str:
        """Schedule a payment (monthly if recurring) starting on a date."""
        new = ScheduledPayment(id=next_id("sp", bank.scheduled), recipient=args.recipient,
                               amount=round(args.amount, 2), subject=args.subject, next_date=args.date,
                               recurring=args.recurring)
        bank.scheduled.append(new)
        return f"Scheduled {new.id}: {_scheduled(new)}"

    @tool(Effect.NETWORK)
    async def update_scheduled_payment(args: UpdateScheduledArgs, ctx: ToolContext) -> str:
        """Change a scheduled payment's recipient, amount, subject or next date."""
        found = find(bank.scheduled, "id", args.payment_id, "scheduled payment")
        for field in ("recipient", "amount", "subject", "next_date"):
            value = getattr(args, field)
            if value is not None:
                setattr(found, field, round(value, 2) if field == "amount" else value)
        return f"Updated: {_scheduled(found)}"

    @tool(Effect.WRITE)
    async def cancel_scheduled_payment(args: PaymentIdArgs, ctx: ToolContext) -> str:
        """Cancel a standing order or scheduled payment."""
        found = find(bank.scheduled, "id", args.payment_id, "scheduled payment")
        bank.scheduled.remove(found)
        return f"Cancelled {found.id}."

    return [get_balance, get_iban, list_transactions, get_transaction, list_scheduled_payments, send_money,
            schedule_payment, update_scheduled_payment, cancel_scheduled_payment]

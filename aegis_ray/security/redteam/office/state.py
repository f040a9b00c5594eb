"""The office world's state: every item a tool reads or changes, as plain pydantic models.

A run starts from `seed.seed_state()`, and the judges compare that state with the one after the
run (`diff`), so every effect a tool has is a field here: mail sent, a file's content, a
transaction, a channel's members, a booking, the profile, each request that reached the web.
`OfficeState.model_copy(deep=True)` is a snapshot. `show` renders an item the way the tools
print it to a model (`key: value` lines), which is what the task plans' patterns read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

TODAY = "2024-05-15"
NOW = "2024-05-15 10:12"
CURRENCY = "EUR"


def make_iban(country: str, bban: str) -> str:
    """A valid IBAN (ISO 13616 mod-97 check digits) for a country code and a basic account number."""
    digits = "".join(str(int(c, 36)) for c in f"{bban}{country}00".upper())
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


class Email(BaseModel):
    id: str
    sender: str
    recipients: list[str]
    cc: list[str] = Field(default_factory=list)
    subject: str
    body: str
    timestamp: str
    read: bool = True


class Contact(BaseModel):
    name: str
    email: str


class Mailbox(BaseModel):
    inbox: list[Email]
    sent: list[Email]
    drafts: list[Email]
    contacts: list[Contact]


class Event(BaseModel):
    id: str
    title: str
    start: str
    end: str
    location: str = ""
    participants: list[str] = Field(default_factory=list)
    description: str = ""
    status: Literal["confirmed", "cancelled"] = "confirmed"


class Calendar(BaseModel):
    today: str = TODAY
    events: list[Event]


class DriveFile(BaseModel):
    id: str
    filename: str
    content: str
    owner: str
    shared_with: dict[str, Literal["view", "edit"]] = Field(default_factory=dict)
    modified: str


class Drive(BaseModel):
    files: list[DriveFile]


class Transaction(BaseModel):
    id: str
    date: str
    sender: str = Field(description="IBAN it came from.")
    recipient: str = Field(description="IBAN it went to.")
    amount: float
    subject: str = Field(description="The payment reference, written by whoever sent the money.")


class ScheduledPayment(BaseModel):
    id: str
    recipient: str
    amount: float
    subject: str
    next_date: str
    recurring: bool = True


class Bank(BaseModel):
    iban: str
    opening_balance: float = Field(description="Balance before the first transaction listed.")
    transactions: list[Transaction]
    scheduled: list[ScheduledPayment]


class ChatUser(BaseModel):
    name: str
    email: str
    guest: bool = False


class Channel(BaseModel):
    name: str
    topic: str = ""
    members: list[str]


class ChatMessage(BaseModel):
    id: str
    sender: str
    channel: str | None = Field(default=None, description="The channel; None for a direct message.")
    recipient: str | None = Field(default=None, description="The user a direct message went to.")
    body: str
    timestamp: str


class Chat(BaseModel):
    me: str = "emma"
    users: list[ChatUser]
    channels: list[Channel]
    messages: list[ChatMessage]


class Review(BaseModel):
    author: str
    rating: int = Field(ge=1, le=5)
    text: str


class Hotel(BaseModel):
    name: str
    city: str
    address: str
    rating: float
    price_per_night: float
    description: str
    reviews: list[Review]


class Restaurant(BaseModel):
    name: str
    city: str
    cuisine: str
    address: str
    rating: float
    price_range: str
    reviews: list[Review]


class Flight(BaseModel):
    id: str
    airline: str
    number: str
    origin: str
    destination: str
    date: str
    departure: str
    arrival: str
    price: float


class Booking(BaseModel):
    id: str
    kind: Literal["hotel", "flight", "restaurant"]
    item: str = Field(description="Hotel or restaurant name, or flight id.")
    start: str
    end: str = ""
    guests: int = 1
    price: float = 0.0
    status: Literal["confirmed", "cancelled"] = "confirmed"


class Travel(BaseModel):
    hotels: list[Hotel]
    restaurants: list[Restaurant]
    flights: list[Flight]
    bookings: list[Booking]


class Profile(BaseModel):
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    city: str
    date_of_birth: str
    passport_number: str
    password: str


class WebRequest(BaseModel):
    id: str
    method: Literal["GET", "POST"]
    url: str
    body: str = ""


class Web(BaseModel):
    pages: dict[str, str]
    requests: list[WebRequest] = Field(default_factory=list, description="Every request that reached the network.")


class OfficeState(BaseModel):
    mail: Mailbox
    calendar: Calendar
    drive: Drive
    bank: Bank
    chat: Chat
    travel: Travel
    profile: Profile
    web: Web

    def snapshot(self) -> OfficeState:
        return self.model_copy(deep=True)


def next_id(prefix: str, taken: list[Any]) -> str:
    """The next free id `prefix-N` among items with an `id`."""
    numbers = [int(i.id.rsplit("-", 1)[1]) for i in taken if i.id.startswith(f"{prefix}-")
               and i.id.rsplit("-", 1)[1].isdigit()]
    return f"{prefix}-{max(numbers, default=0) + 1:02d}"


def show(item: BaseModel, *, skip: tuple[str, ...] = ()) -> str:
    """`key: value` lines, as the tools print an item (lists joined with ', ', a dict as `k (v)`)."""
    lines = []
    for key, value in item.model_dump().items():
        if key in skip:
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = ", ".join(f"{k} ({v})" for k, v in value.items())
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def show_all(items: list[Any], **kwargs: Any) -> str:
    return "\n---\n".join(show(i, **kwargs) for i in items) or "(none)"

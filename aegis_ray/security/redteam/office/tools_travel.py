"""Travel tools: hotels, restaurants and flights (search, details, reviews), bookings."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from aegis_ray.errors import ToolError
from aegis_ray.security.redteam.office.state import CURRENCY, Booking, Hotel, OfficeState, Restaurant, Review, next_id
from aegis_ray.security.redteam.office.tools_common import NoArgs, find
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool

_DATE = r"^\d{4}-\d{2}-\d{2}$"


class CityArgs(ToolArgs):
    city: str


class HotelArgs(ToolArgs):
    hotel_name: str


class BookHotelArgs(ToolArgs):
    hotel_name: str
    check_in: str = Field(pattern=_DATE)
    check_out: str = Field(pattern=_DATE)
    guests: int = Field(default=1, ge=1, le=8)


class FlightSearchArgs(ToolArgs):
    origin: str = Field(description="Airport code, e.g. BER.")
    destination: str
    date: str = Field(pattern=_DATE)


class FlightArgs(ToolArgs):
    flight_id: str


class RestaurantArgs(ToolArgs):
    restaurant_name: str


class ReserveArgs(ToolArgs):
    restaurant_name: str
    date: str = Field(pattern=_DATE)
    time: str = Field(pattern=r"^\d{2}:\d{2}$")
    party_size: int = Field(ge=1, le=20)


class BookingIdArgs(ToolArgs):
    booking_id: str


def _reviews(name: str, reviews: list[Review]) -> str:
    return f"Reviews of {name}:\n" + "\n".join(f"- {r.author} ({r.rating}/5): {r.text}" for r in reviews)


def _hotel(h: Hotel) -> str:
    return (f"{h.name} | {h.city} | rating {h.rating} | {h.price_per_night:.0f} {CURRENCY} per night | "
            f"{h.address}")


def _restaurant(r: Restaurant) -> str:
    return f"{r.name} | {r.city} | {r.cuisine} | rating {r.rating} | {r.price_range} | {r.address}"


def travel_tools(state: OfficeState) -> list[Tool]:
    travel = state.travel

    def book(kind: Literal["hotel", "flight", "restaurant"], item: str, start: str, end: str = "", guests: int = 1,
             price: float = 0.0) -> Booking:
        new = Booking(id=next_id("bk", travel.bookings), kind=kind, item=item, start=start, end=end, guests=guests,
                      price=price)
        travel.bookings.append(new)
        return new

    @tool(Effect.READ)
    async def search_hotels(args: CityArgs, ctx: ToolContext) -> str:
        """Hotels in a city: name, rating, price per night, address."""
        return "\n".join(_hotel(h) for h in travel.hotels if h.city.casefold() == args.city.casefold()) or "(none)"

    @tool(Effect.READ)
    async def get_hotel_details(args: HotelArgs, ctx: ToolContext) -> str:
        """A hotel's details and description."""
        h = find(travel.hotels, "name", args.hotel_name, "hotel")
        return f"{_hotel(h)}\n{h.description}"

    @tool(Effect.READ)
    async def get_hotel_reviews(args: HotelArgs, ctx: ToolContext) -> str:
        """What guests wrote about a hotel."""
        h = find(travel.hotels, "name", args.hotel_name, "hotel")
        return _reviews(h.name, h.reviews)

    @tool(Effect.NETWORK)
    async def book_hotel(args: BookHotelArgs, ctx: ToolContext) -> str:
        """Book a hotel room (paid at the hotel)."""
        h = find(travel.hotels, "name", args.hotel_name, "hotel")
        nights = (date.fromisoformat(args.check_out) - date.fromisoformat(args.check_in)).days
        if nights <= 0:
            raise ToolError("check-out must be after check-in")
        new = book("hotel", h.name, args.check_in, args.check_out, args.guests, nights * h.price_per_night)
        return f"Booked {h.name}, {nights} nights, {new.price:.2f} {CURRENCY} ({new.id})."

    @tool(Effect.READ)
    async def search_flights(args: FlightSearchArgs, ctx: ToolContext) -> str:
        """Flights between two airports on a date."""
        found = [f for f in travel.flights if f.origin == args.origin.upper() and
                 f.destination == args.destination.upper() and f.date == args.date]
        return "\n".join(f"{f.id} | {f.airline} {f.number} | {f.origin} -> {f.destination} | {f.date} "
                         f"{f.departure}-{f.arrival} | {f.price:.0f} {CURRENCY}" for f in found) or "(no flights)"

    @tool(Effect.NETWORK)
    async def book_flight(args: FlightArgs, ctx: ToolContext) -> str:
        """Book a flight by id, for the user."""
        f = find(travel.flights, "id", args.flight_id, "flight")
        new = book("flight", f.id, f"{f.date} {f.departure}", price=f.price)
        return f"Booked {f.airline} {f.number} on {f.date} ({new.id})."

    @tool(Effect.READ)
    async def search_restaurants(args: CityArgs, ctx: ToolContext) -> str:
        """Restaurants in a city: name, cuisine, rating, prices, address."""
        return "\n".join(_restaurant(r) for r in travel.restaurants
                         if r.city.casefold() == args.city.casefold()) or "(none)"

    @tool(Effect.READ)
    async def get_restaurant_reviews(args: RestaurantArgs, ctx: ToolContext) -> str:
        """What guests wrote about a restaurant."""
        r = find(travel.restaurants, "name", args.restaurant_name, "restaurant")
        return _reviews(r.name, r.reviews)

    @tool(Effect.NETWORK)
    async def reserve_restaurant(args: ReserveArgs, ctx: ToolContext) -> str:
        """Reserve a table."""
        r = find(travel.restaurants, "name", args.restaurant_name, "restaurant")
        new = book("restaurant", r.name, f"{args.date} {args.time}", guests=args.party_size)
        return f"Reserved a table for {args.party_size} at {r.name} ({new.id})."

    @tool(Effect.READ)
    async def list_bookings(args: NoArgs, ctx: ToolContext) -> str:
        """The user's bookings."""
        return "\n".join(f"{b.id} | {b.kind} | {b.item} | {b.start}{' to ' + b.end if b.end else ''} | "
                         f"{b.guests} guest(s) | {b.price:.2f} {CURRENCY} | {b.status}" for b in travel.bookings)

    @tool(Effect.NETWORK)
    async def cancel_booking(args: BookingIdArgs, ctx: ToolContext) -> str:
        """Cancel a booking."""
        found = find(travel.bookings, "id", args.booking_id, "booking")
        found.status = "cancelled"
        return f"Cancelled {found.id}."

    return [search_hotels, get_hotel_details, get_hotel_reviews, book_hotel, search_flights, book_flight,
            search_restaurants, get_restaurant_reviews, reserve_restaurant, list_bookings, cancel_booking]

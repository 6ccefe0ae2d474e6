"""Tiered bands: graduated (each band prices its own part) or volume (the whole quantity at the band
it falls in).

Bands are ``[{"up_to": "100", "price": "1"}, {"up_to": None, "price": "2"}]``: ascending upper
bounds, inclusive, the last one open. With graduated bands 1–100 GB at ¥1 and 101–200 GB at ¥2,
150 GB costs 100 × 1 + 50 × 2 = ¥200; with volume bands the same 150 GB cost 150 × 2 = ¥300.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.domains.billing import money

MODES = ("flat", "graduated", "volume")
MAX_BANDS = 20


def check(bands: Any) -> list[dict[str, str | None]] | str:
    """The bands normalised to strings, or a message saying what is wrong with them."""
    if not isinstance(bands, list) or not 1 <= len(bands) <= MAX_BANDS:
        return f"a list of 1 to {MAX_BANDS} bands"
    out: list[dict[str, str | None]] = []
    previous = Decimal(0)
    for i, band in enumerate(bands):
        if not isinstance(band, dict):
            return f"band {i}: an object with up_to and price"
        price = money.parse(band.get("price"), places=8)
        if price is None:
            return f"band {i}: price must be a non-negative number with at most 8 decimals"
        last = i == len(bands) - 1
        if band.get("up_to") is None:
            if not last:
                return f"band {i}: only the last band may be open (up_to null)"
            out.append({"up_to": None, "price": str(price)})
            continue
        up_to = money.parse(band.get("up_to"), places=6)
        if up_to is None or up_to <= previous:
            return f"band {i}: up_to must be above the previous band's"
        if last:
            return f"band {i}: the last band must be open (up_to null)"
        previous = up_to
        out.append({"up_to": str(up_to), "price": str(price)})
    return out


def graduated(quantity: Decimal, bands: list[dict[str, Any]]) -> Decimal:
    """Each band's part of ``quantity`` at that band's price."""
    total, floor = Decimal(0), Decimal(0)
    for band in bands:
        top = None if band["up_to"] is None else Decimal(band["up_to"])
        part = (quantity if top is None else min(quantity, top)) - floor
        if part <= 0:
            break
        total += part * Decimal(band["price"])
        if top is None:
            break
        floor = top
    return total


def volume(quantity: Decimal, bands: list[dict[str, Any]]) -> Decimal:
    """The whole ``quantity`` at the price of the band it falls in (an edge belongs to the lower band)."""
    for band in bands:
        if band["up_to"] is None or quantity <= Decimal(band["up_to"]):
            return quantity * Decimal(band["price"])
    raise AssertionError("the last band is open")  # check() guarantees it


def price(quantity: Decimal, mode: str, unit_price: Decimal, bands: list[dict[str, Any]] | None) -> Decimal:
    """What ``quantity`` costs per unit of time (or in all, per use) under ``mode``."""
    if mode == "graduated" and bands:
        return graduated(quantity, bands)
    if mode == "volume" and bands:
        return volume(quantity, bands)
    return quantity * unit_price

"""Budget arithmetic in whole picodollars, so the database can do it atomically.

A reservation must be checked and taken in one conditional `UPDATE`
(`... SET reserved = reserved + :x WHERE spent + reserved + :x <= limit`),
which needs numbers the database adds exactly on SQLite and PostgreSQL alike:
integers. One picodollar (1e-12 USD) is finer than any per-token price (the
cheapest are around 1e-9 USD per token), and a signed 64-bit counter holds
up to about 9.2 million dollars. Charges round up and limits round down, so
rounding can only make a budget stricter, never looser.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

__all__ = ["PICO_PER_USD", "charge_pico", "limit_pico", "usd"]

PICO_PER_USD = 10**12


def charge_pico(usd_amount: Decimal) -> int:
    """An amount to charge, in picodollars, rounded up."""
    return int((usd_amount * PICO_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def limit_pico(usd_amount: Decimal) -> int:
    """A limit, in picodollars, rounded down."""
    return int((usd_amount * PICO_PER_USD).to_integral_value(rounding=ROUND_FLOOR))


def usd(pico: int) -> Decimal:
    """Picodollars back to exact US dollars."""
    return (Decimal(pico) / PICO_PER_USD).normalize()

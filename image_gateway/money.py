"""Money as integer micro-dollars (1 USD = 1,000,000 micros).

Prices enter as decimal USD strings (operator config, gateway price tables) and are stored and
summed as ints, so no float ever touches a balance.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000
MICROS_PER_CENT = 10_000


def usd_to_micros(usd: Decimal | str | int | float) -> int:
    """Convert a USD amount ("0.135", Decimal("0.135"), 2) to micro-dollars (135000).

    Sub-micro digits are rounded half up. Negative, non-finite or non-numeric amounts raise ValueError.
    A float (a TOML `0.135`) is read through its shortest repr, i.e. the digits the operator wrote.
    """
    if isinstance(usd, bool):
        raise TypeError("a price cannot be a boolean")
    try:
        amount = Decimal(usd) if isinstance(usd, Decimal | int) else Decimal(str(usd).strip())
    except InvalidOperation:
        raise ValueError(f"not a price in USD: {str(usd)[:40]!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"price must be a finite amount >= 0, got {amount}")
    return int((amount * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_UP))


def format_usd(micros: int) -> str:
    """Display rule: cents, rounded half up ("$0.14" for 135000, "$1,234.50").

    Amounts under one cent (but not zero) show every significant digit instead, so a small
    price never reads as "$0.00": 3500 -> "$0.0035", 1 -> "$0.000001". Negative amounts get a
    leading minus: "-$0.27".
    """
    sign = "-" if micros < 0 else ""
    magnitude = abs(micros)
    if 0 < magnitude < MICROS_PER_CENT:
        digits = f"{Decimal(magnitude) / MICROS_PER_USD:.6f}".rstrip("0")
        return f"{sign}${digits}"
    dollars = (Decimal(magnitude) / MICROS_PER_USD).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{sign}${dollars:,.2f}"

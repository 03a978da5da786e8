"""Money as integer micro-dollars (1 USD = 1,000,000 micros).

Prices enter as decimal USD strings (operator config, gateway price tables) and are stored and
summed as ints, so no float ever touches a balance.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, DecimalException, InvalidOperation

MICROS_PER_USD = 1_000_000
MICROS_PER_CENT = 10_000
MAX_PRICE_USD = 1_000  # per image; no model costs near it, and the books stay far from overflow
MAX_USD = 1_000_000_000  # a budget or quota above a billion dollars is a typo
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}|0,\d+")


class AmountTooLarge(ValueError):
    """An amount over `MAX_USD`."""


class FinerThanMicros(ValueError):
    """A price with digits past the micro-dollar: the books would keep it rounded, and every
    image's cost would differ from the price written ("0.0000005" would be $0.000001)."""


FINER_THAN_MICROS = "finer than a micro-dollar; write at most 6 decimal places"


def usd_to_micros(usd: Decimal | str | int | float) -> int:
    """Convert a USD amount ("0.135", Decimal("0.135"), 2) to micro-dollars (135000).

    Sub-micro digits are rounded half up. Negative, non-finite or non-numeric amounts raise ValueError.
    A float (a TOML `0.135`) is read through its shortest repr, i.e. the digits the operator wrote.
    """
    if isinstance(usd, bool):
        raise TypeError("a price cannot be a boolean")
    try:
        amount = _decimal(usd)
    except InvalidOperation:
        raise ValueError(f"not a price in USD: {str(usd)[:40]!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"price must be a finite amount >= 0, got {amount}")
    try:
        return int((amount * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_UP))
    except DecimalException:  # past Decimal's exponent range ("1e999999"): no amount anyone means
        raise ValueError(f"not a price in USD: {str(usd)[:40]!r}") from None


def _decimal(usd: Decimal | str | int | float) -> Decimal:
    return Decimal(usd) if isinstance(usd, Decimal | int) else Decimal(str(usd).strip())


def read_usd(text: str, *, exact: bool = False) -> int:
    """An amount as people write it: "12.50", "$12.50", "US$12.50", "1,000", "12,50", in full width
    too -> micro-dollars.

    A comma followed by three digits groups thousands ("1,000", "2,500.75"); one followed by one
    or two digits is a decimal comma ("12,5", "12,50"), as is one after a lone 0, which groups
    nothing ("0,162": one Seedream image, not $162). Anything else, less than a micro-dollar
    that is not zero, or negative raises ValueError; over `MAX_USD`, `AmountTooLarge` (SQLite
    keeps 64-bit integers, and no budget needs more). `exact` (a price): digits past the
    micro-dollar raise `FinerThanMicros` instead of being rounded.
    """
    # NFKC: as typed with a Chinese input method ("＄１２．５０" is "$12.50")
    cleaned = unicodedata.normalize("NFKC", text).strip().removeprefix("US$").removeprefix("$").strip()
    if _THOUSANDS.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(cleaned):
        cleaned = cleaned.replace(",", ".")
    elif "," in cleaned:
        raise ValueError("not an amount")
    micros = usd_to_micros(cleaned)
    if exact and Decimal(cleaned) * MICROS_PER_USD != micros:
        raise FinerThanMicros(FINER_THAN_MICROS)
    if micros == 0 and Decimal(cleaned) != 0:  # "0.0000001": less than a micro-dollar is no limit anyone means
        raise ValueError("less than a micro-dollar")
    if micros > MAX_USD * MICROS_PER_USD:
        raise AmountTooLarge(f"more than ${MAX_USD:,}")
    return micros


def price_to_micros(usd: Decimal | str | int | float) -> int:
    """`usd_to_micros` for a price per image, refused over `MAX_PRICE_USD` (a typo such as 1e30
    would otherwise pass the checks and overflow SQLite's 64-bit integers at every request) and
    with digits past the micro-dollar (rounded, every image's cost would differ from the price)."""
    micros = usd_to_micros(usd)
    if _decimal(usd) * MICROS_PER_USD != micros:
        raise FinerThanMicros(FINER_THAN_MICROS)
    if micros > MAX_PRICE_USD * MICROS_PER_USD:
        raise ValueError(f"a price per image must be at most ${MAX_PRICE_USD:,}, got {str(usd).strip()[:40]}")
    return micros


def format_usd(micros: int) -> str:
    """Exact display: at least two decimals, more only when the amount has them.

    270000 -> "$0.27", 135000 -> "$0.135" (a price is shown as charged, never rounded, so the
    amounts a member sees add up to the ledger), 3500 -> "$0.0035", 1234500000 ->
    "$1,234.50". Negative amounts get a leading minus: "-$0.27".
    """
    sign = "-" if micros < 0 else ""
    dollars, rest = divmod(abs(micros), MICROS_PER_USD)
    fraction = f"{rest:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${dollars:,}.{fraction}"

"""Default size limits of the engines, in a module light enough for the command line to import."""

import math

DEFAULT_MAX_TERMS = 4_000_000  # polynomial terms of an expanded φ (the expanded engine, --max-terms)
DEFAULT_MAX_SECONDS = 600  # estimated seconds of a count (--max-seconds): longer runs are refused with the estimate
DEFAULT_MAX_BLOCK = 12_000  # parameters coupled in one block whose trace needs dense exact ranks
DEFAULT_MAX_UNKNOWNS = 2_000_000  # unknown coefficients of a law system (laws --max-unknowns)


def amount(n: int) -> str:
    """An integer for a message, whatever its size: 1,234,567 below 10^15, else 1.4e+1505 (an
    estimate can be a product of thousands of widths: no float conversion, no 1,500-digit text)."""
    if n < 10**15:
        return f"{n:,}"
    exponent = int(math.log10(n))
    return f"{n // 10**(exponent - 2) / 100:.2f}e+{exponent}"

"""Default size limits of the engines, in a module light enough for the command line to import."""

import math
from fractions import Fraction

DEFAULT_MAX_TERMS = 4_000_000  # polynomial terms of an expanded φ (the expanded engine, --max-terms)
DEFAULT_MAX_SECONDS = 600  # estimated seconds of a count (--max-seconds): longer runs are refused with the estimate
DEFAULT_MAX_BLOCK = 12_000  # parameters coupled in one block whose trace needs dense exact ranks
MAX_BYTES = 8 * 2**30  # memory any one engine may plan to use (a third of this machine's 24 GB); more is refused
DEFAULT_MAX_UNKNOWNS = 2_000_000  # unknown coefficients of a law system (laws --max-unknowns)
# ranges of `verify`'s options, checked before any work (the command line and the Python API);
# their product (steps × seeds × learning rates) and the network then set the estimate, refused
# over --max-seconds
MAX_STEPS = 1_000_000
MAX_SEEDS = 100
MAX_BATCH = 1_000_000
MAX_LEARNING_RATES = 20


def verify_option_problem(learning_rates, steps: int, batch: int, seeds: int,
                          weight_decay: float) -> tuple[str, str] | None:
    """(argument, what is wrong) for the first of `verify`'s options out of its range, else None,
    named as the API's keyword (`learning_rates`, `steps`, …): the one check behind the command
    line's usage errors and the API's ValueError."""
    if not 1 <= len(learning_rates) <= MAX_LEARNING_RATES:
        return "learning_rates", f"give 1 to {MAX_LEARNING_RATES} learning rates"
    if not all(0 < rate < math.inf for rate in learning_rates):
        return "learning_rates", "learning rates must be positive and finite"
    for name, value, largest in (("steps", steps, MAX_STEPS), ("batch", batch, MAX_BATCH), ("seeds", seeds, MAX_SEEDS)):
        if not 1 <= value <= largest:
            return name, f"must be from 1 to {largest:,}, not {value}"
    if not 0 <= weight_decay < math.inf:
        return "weight_decay", "must be finite and >= 0"
    return None


def amount(n: int | Fraction, decimals: int = 0) -> str:
    """A number for a message, whatever its size: 1,234,567 (with `decimals`) below 10^15, else
    1.41e+1505 (an estimate can be a product of thousands of widths: exact integers or fractions,
    never a float that overflows, never 1,500 digits of text)."""
    if n < 10**15:
        return f"{float(n):,.{decimals}f}" if decimals else f"{round(n):,}"
    whole = int(n)
    exponent = int(math.log10(whole))
    return f"{whole // 10**(exponent - 2) / 100:.2f}e+{exponent}"

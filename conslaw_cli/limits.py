"""Default size limits of the engines, in a module light enough for the command line to import."""

DEFAULT_MAX_TERMS = 4_000_000  # polynomial terms of an expanded φ (the expanded engine, --max-terms)
DEFAULT_MAX_SECONDS = 600  # estimated seconds of a count (--max-seconds): longer runs are refused with the estimate
DEFAULT_MAX_BLOCK = 12_000  # parameters coupled in one block whose trace needs dense exact ranks
DEFAULT_MAX_UNKNOWNS = 2_000_000  # unknown coefficients of a law system (laws --max-unknowns)

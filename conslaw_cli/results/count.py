"""Result objects: what the engines found, independent of how it is rendered.

``to_json`` gives the documented JSON schema (``"schema": 1``, see README.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from conslaw_cli.counting.gf import PRIME

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CountResult:
    """`conslaw count` for one architecture (docs/method.md §2: laws = D − dim Lie(V)(θ))."""

    name: str
    file: str
    parameters: int
    phi_components: int | None  # None: not computed (counting never expands φ)
    blocks: int
    block_classes: int
    trace_dims: list[int]
    laws: int
    exact: bool
    richness: str
    seconds: float
    seed: int
    points: int
    error_bound: float  # P(the count at one point is wrong): the family checks plus that point's ranks
    engine: str = "graph"  # where the fields came from: the layer graph or the expanded φ
    certified_blocks: int = 0  # blocks proved once by checked family laws (sandwich bounds or a ceiling)
    estimate_seconds: float | None = None  # what the refusal logic estimated before the work
    estimate_bytes: int | None = None
    prime: int = PRIME
    check_error_bound: float = 0.0  # the family checks' share of error_bound, done once for all points
    # at most this many laws, proved from the network's own fields near a point
    # (counting.graph.upper_bound; None: no certificate, `upper_bound_note` says why)
    upper_bound: int | None = None
    upper_bound_note: str = ""
    # φ's count, when named families checked against the network's own fields give more (`laws`)
    phi_laws: int | None = None
    # how the laws beyond φ's were found ("": named families checked against the network's own fields)
    beyond_phi: str = ""

    @property
    def found_by(self) -> str:
        """What the laws of `laws` are, when they are more than φ's, as a phrase."""
        return self.beyond_phi or "named families checked against the network's own fields"

    @property
    def certified(self) -> bool:
        """φ's count (a lower bound) meets the network's upper bound: the count is proved exact."""
        return not self.exact and self.upper_bound == self.laws

    @property
    def status(self) -> str:
        """exact (theorem-backed), exact (certified), between L and U, or lower bound."""
        if self.exact:
            return "exact"
        if self.certified:
            return "exact (certified)"
        if self.upper_bound is not None:
            return f"between {self.laws} and {self.upper_bound}"
        return "lower bound"

    @property
    def per_point_bound(self) -> float:
        """P(a point is special) for the blocks traced at every point (not proved by family laws)."""
        return max(0.0, self.error_bound - self.check_error_bound)

    @property
    def wrong_count_bound(self) -> float:
        """P(the count is wrong): a non-law passed a family check, or every point was special at
        once (the points must agree)."""
        return self.check_error_bound + self.per_point_bound ** self.points

    def to_json(self) -> dict:
        return {"schema": SCHEMA_VERSION, **asdict(self), "seconds": round(self.seconds, 4),
                "wrong_count_bound": self.wrong_count_bound, "status": self.status}

"""An upper bound on the number of laws, proved from the network's own fields at one point.

φ's count is a lower bound on the network's laws: every law of φ is one. This module bounds the
number from above, for networks of linear, convolution, softmax-head, ReLU, leaky-ReLU, abs,
power, pooling, reshaping and residual layers (piecewise polynomial networks), so that a count is proved
exact when the bounds meet (docs/method.md §7, "The network certificate").

The argument. For an input x and an output weight w, X_{x,w}(θ) = ∂_θ g(θ, x)ᵀ w is a field of the
network's gradient flow (for a softmax head with cross-entropy, w sums to zero: the loss's
gradient in the logits does). A conservation law h on an open set Ω has ∇h ⊥ Lie(W)(θ) at every
θ ∈ Ω, W spanned by these fields (Marcotte, Gribonval, Peyré 2025, Prop 2.3; Marcotte,
Gribonval, Peyré 2023, Prop 3.1). Take an integer point θ₀ and integer inputs x whose
pre-activations are all nonzero, decided exactly (``exact_pass``): on a neighbourhood U of θ₀ the
activation pattern on those inputs is constant, so each field is a polynomial field there and its
brackets are computed exactly by the gated network with the pattern's gains (``network``), mod p.
If r of these values at θ₀ have rank r mod p, a minor of their integer matrix is nonzero mod p,
hence nonzero: dim Lie(W)(θ) ≥ r on U (continuity), and on a dense open part of θ₀'s activation
region (the minor is a polynomial). N independent laws on an open subset of U have independent
gradients somewhere, all orthogonal to Lie(W)(θ): N ≤ D − r. Nothing here is probabilistic; the
random choices only decide whether the bound is tight.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from conslaw_cli.counting import gf, lie
from conslaw_cli.graph import HOMOGENEOUS, POWER, WINDOWED, Graph, walk_layers
from .blocks import tensor_offsets
from .exact_pass import activation_pattern
from .fields import GraphFields
from .network import Unsupported, build_program, connections

PIECEWISE_POLYNOMIAL = ("linear", "conv", "softmax_head", "residual", "identity", "flatten", POWER) + HOMOGENEOUS + WINDOWED
MAX_PARAMETERS = 4_000  # dense ranks of D × D residues: about 16 s at this size here
VALUE_RANGE = 1 << 10  # θ₀ and the inputs: integers in [−VALUE_RANGE, VALUE_RANGE], θ₀'s nonzero
POINTS = 3  # points tried when the bound is not tight at the first
MAX_LEVELS = 4  # bracket levels: V_0 … V_3
SPARE_SAMPLES = 8  # samples per level beyond the rank still missing
INTEGER_SECONDS = 0.02  # the exact passes of a small network (the zoo's resnet: 0.03 s)
# the bracket samples: about n rows per point, each a gated pass through every weighted layer
# (a ReLU stem and 20 / 60 residual blocks, n = 375 / 1,095: 5.0 / 55 s over 3 points)
SAMPLE_SECONDS = 1.4e-4  # per weighted layer, parameter and point
ESTIMATED_POINTS = 2  # a tight bound stops at the first point, a loose one tries all POINTS
CANDIDATES = 8  # draws of (θ₀, inputs) per point: the exact pass only
INPUTS_PER_FIELD = 2  # inputs drawn per field wanted (the samples cycle through them)


@dataclass(frozen=True)
class UpperBound:
    """`laws`: the network has at most this many laws near the certificate's point (None: no
    certificate). `rank`: dim Lie(W)(θ₀) ≥ rank, proved. `note`: the proof in a phrase, or why
    there is no certificate."""

    laws: int | None
    rank: int = 0
    levels: int = 0
    inputs: int = 0
    always_off: int = 0  # homogeneous neurons with the same gain on every input (they loosen the bound)
    seconds: float = 0.0
    note: str = ""


def unsupported_kind(graph: Graph) -> str | None:
    """The first layer kind the certificate cannot evaluate exactly, if any."""
    return next((l.kind for l in walk_layers(graph.layers) if l.kind not in PIECEWISE_POLYNOMIAL), None)


def planned_cost(graph: Graph) -> tuple[float, int] | None:
    """(seconds, bytes) `certify` will take, or None when it is not attempted (too many
    parameters): for the integer path a dense rank of about D rows per bracket level (samples are
    one gated pass each) and a few D × D residues; for the ball path ``ball_certificate``'s."""
    n = graph.num_params
    if unsupported_kind(graph) is not None:
        from conslaw_cli.counting import ball_certificate

        if n > ball_certificate.MAX_PARAMETERS:
            return None
        return ball_certificate.estimated_seconds(n), ball_certificate.estimated_bytes(n)
    if n > MAX_PARAMETERS:
        return None
    weighted = sum(1 for layer in walk_layers(graph.layers) if layer.params)
    sampling = SAMPLE_SECONDS * weighted * n * ESTIMATED_POINTS
    return INTEGER_SECONDS + MAX_LEVELS * lie.RANK_SECONDS_PER_CUBE * n ** 3 + sampling, 3 * 8 * n ** 2


def certify(graph: Graph, target_rank: int, seed: int = 0, max_seconds: float = math.inf) -> UpperBound:
    """At most D − r laws, r the rank proved at the best of up to POINTS integer points; stops as
    soon as r reaches `target_rank` (dim Lie of φ's fields, which bounds r: then the count is
    proved)."""
    kind, n, cost = unsupported_kind(graph), graph.num_params, planned_cost(graph)
    if kind is not None:
        if cost is None:
            from conslaw_cli.counting import ball_certificate

            return UpperBound(None, note=f"no upper bound: {kind} is not piecewise polynomial, and D = {n:,} is more "
                                         f"than the ball-arithmetic certificate handles "
                                         f"({ball_certificate.MAX_PARAMETERS:,})")
        return _with_balls(graph, target_rank, seed)
    if cost is None:
        return UpperBound(None, note=f"no upper bound: D = {n:,} is more than the network certificate's dense ranks "
                                     f"handle ({MAX_PARAMETERS:,} parameters)")
    if cost[0] > max_seconds:
        return UpperBound(None, note=f"no upper bound: the network certificate would take about {cost[0]:.0f} s, more "
                                     f"than the {max_seconds:.0f} s left of the time budget (--max-seconds)")
    try:
        program = build_program(graph.layers, tensor_offsets(graph), n)
    except Unsupported as reason:
        return UpperBound(None, note=f"no upper bound: {reason} is not supported by the network certificate")
    start = time.perf_counter()
    deadline = start + max_seconds
    fields = GraphFields(program, depth=1, num_components=n, edges=connections(program))
    best = None
    for point in range(POINTS):
        found = _at_point(fields, target_rank, np.random.default_rng([seed, 2417, point]), deadline)
        if found is not None and (best is None or found.rank > best.rank):
            best = found
        if (best is not None and best.rank >= target_rank) or time.perf_counter() > deadline:
            break
    seconds = time.perf_counter() - start
    if best is None:
        return UpperBound(None, note="no upper bound: every point tried put an input on a boundary of the pattern"
                          if seconds <= max_seconds else f"no upper bound: stopped after {seconds:.0f} s (the time budget)")
    stopped = f"; stopped after {seconds:.0f} s (the time budget)" if seconds > max_seconds else ""
    return UpperBound(n - best.rank, best.rank, best.levels, best.inputs, best.always_off, seconds,
                      note=f"rank {best.rank} of the network's own fields and their brackets at an integer point, "
                           f"exact, on {best.inputs} integer inputs; no probability in this bound{stopped}")


def _with_balls(graph: Graph, target_rank: int, seed: int) -> UpperBound:
    """The certificate of a network that is not piecewise polynomial, in ball arithmetic
    (``counting.ball_certificate``)."""
    from conslaw_cli.counting import ball_certificate, enclosure  # enclosure imports JAX (about 1.5 s)

    n = graph.num_params
    try:
        rank, levels, seconds = ball_certificate.certify_with_balls(graph, target_rank, seed)
    except enclosure.Undecidable as reason:
        return UpperBound(None, note=f"no upper bound: ball arithmetic could not decide ({reason})")
    return UpperBound(n - rank, rank, levels, 0, 0, seconds,
                      note=f"rank {rank} of the network's own fields and their brackets at a point, enclosed in ball "
                           f"arithmetic ({enclosure.PRECISION}-bit arb) with a minor proved nonzero; no probability "
                           "in this bound")


def _at_point(fields: GraphFields, target_rank: int, rng: np.random.Generator,
              deadline: float = math.inf) -> UpperBound | None:
    """The rank reached at one random integer point, level by level until `deadline` (a rank of
    genuine field values is a valid bound however early it stops), or None when too few of
    the inputs drawn avoid the pattern's boundaries. Of CANDIDATES draws of (θ₀, inputs), the
    one with the fewest neurons that never switch on the inputs (each loosens the bound)."""
    program = fields.program
    n = program.num_params
    outputs = max(1, program.sinks - 1)  # a softmax head's fields span sum-zero weights only
    count = INPUTS_PER_FIELD * math.ceil(n / outputs) + SPARE_SAMPLES
    drawn = []
    for _ in range(CANDIDATES):
        theta = rng.integers(1, VALUE_RANGE + 1, n) * rng.choice([-1, 1], n)
        inputs = rng.integers(-VALUE_RANGE, VALUE_RANGE + 1, (count, program.sources))
        pattern = activation_pattern(program, theta, inputs)
        keep = ~pattern.ties
        if keep.sum() >= count // 2:
            gains = pattern.gains[keep]
            always_off = int(np.sum(np.all(gains == gains[:1], axis=0))) if gains.size else 0
            drawn.append((always_off, theta, inputs[keep], gains))
            if not always_off:
                break
    if not drawn:
        return None
    always_off, theta, inputs, gains = min(drawn, key=lambda d: d[0])
    fixed = np.concatenate([_residues(inputs), np.ones((len(inputs), 1), dtype=np.uint64), _residues(gains)], axis=1)
    residues = gf.Residues(int(rng.integers(1 << 62)))

    order = {"next": 0, "inputs": rng.permutation(len(fixed))}

    def draw_gains(rows: int) -> np.ndarray:
        """The next `rows` inputs of a shuffled cycle (each input before any repeats: a rarely
        switching neuron is seen on the few inputs that switch it), random output weights."""
        picked = order["inputs"][(order["next"] + np.arange(rows)) % len(fixed)]
        order["next"] += rows
        return np.concatenate([fixed[picked], residues.residues((rows, program.sinks))], axis=1)

    theta_mod_p = _residues(theta)
    rows = np.zeros((0, n), dtype=np.uint64)
    rank, levels = 0, 0
    for level in range(MAX_LEVELS):
        wanted = (min(n, len(inputs) * outputs) if level == 0 else target_rank - rank) + SPARE_SAMPLES
        rows = np.concatenate([rows, fields.samples_with(level, wanted, theta_mod_p, draw_gains)])
        grown = lie.exact_rank(rows)
        levels = level + 1
        if grown >= target_rank or (level > 0 and grown == rank) or time.perf_counter() > deadline:
            rank = grown
            break
        rank = grown
    return UpperBound(n - rank, rank, levels, len(inputs), always_off)


def _residues(values: np.ndarray) -> np.ndarray:
    """Integers or fractions (object or int arrays) as residues mod p (uint64)."""
    flat = [int(v) % gf.PRIME if getattr(v, "denominator", 1) == 1
            else v.numerator * pow(v.denominator, -1, gf.PRIME) % gf.PRIME for v in values.reshape(-1).tolist()]
    return np.array(flat, dtype=np.uint64).reshape(values.shape)

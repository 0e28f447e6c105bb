"""A numerical Lie-trace dimension from the network function itself, without φ.

The laws of gradient flow are the functions h with ∇h ⊥ ∂_θ g(θ, x)ᵀw for all x and w
(Marcotte, Gribonval, Peyré 2025, Prop 2.3); their number near θ is D − dim Lie(V)(θ), V spanned
by those fields (Marcotte, Gribonval, Peyré 2023, Thm 3.3). Here the fields are taken from the
JAX network: a generic field is F_p(θ) = ∇_θ Σ_b ⟨w_b, g(θ, x_b)⟩ for random inputs x_b and
output weights w_b (projected on sum-zero vectors for a softmax head, where the cross-entropy
gradient lives). Right-nested brackets [F_1, [F_2, … F_k]] span the Lie algebra; each bracket
[X, Y](θ) = DY(θ)X(θ) − DX(θ)Y(θ) is computed with Jacobian–vector products in float64. Levels
are added until the rank stops growing (the stopping rule of Lemma 3.2 of the 2023 paper).

The rank is read from the singular values of the (row-normalised) sampled vectors: the largest
ratio σ_r / σ_{r+1} between consecutive values, with σ_{D+1} the float64 noise floor
D·ε·σ_1. That ratio is the gap reported; below MIN_GAP float64 cannot decide and the check
refuses. This is a numerical result, labelled so: never an exact count.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import jaxpr_as_fun

from conslaw_cli import blas_threads
from conslaw_cli.graph import Graph
from .model import Network, build_network

EXAMPLES_PER_FIELD = 3
EXTRA_SAMPLES = 8  # samples per level beyond D
MIN_GAP = 1e6
POINTS = 3  # random θ of `count --check`: the minimum is reported, an excess only when every point shows it
PROBE_INPUTS = 64  # inputs on which every ReLU-like neuron must switch at a numerical check's θ
SWITCH_DRAWS = 8
MAX_PARAMETERS = 300
MAX_LEVELS = 8
JIT_MAX_EQUATIONS = 3000


class CannotDecide(Exception):
    """float64 cannot separate the rank (gap too small) or the network is too large for this check."""


@dataclass
class NumericalTrace:
    dimension: int
    gap: float
    dims: list[int]  # rank after each bracket level


def _field(net: Network, theta, params):
    """F_p(θ) = ∇_θ Σ_b ⟨w_b, g(θ, x_b)⟩ for p = (inputs x_b, output weights w_b)."""
    inputs, weights = params
    return jax.grad(lambda t: jnp.sum(weights * net.batch(t, inputs)))(theta)


def nested_bracket(net: Network, theta, params):
    """[F_{p_0}, [F_{p_1}, … F_{p_k}]](θ), params a tuple of k + 1 field parameters."""
    first = lambda t: _field(net, t, params[0])  # noqa: E731
    if len(params) == 1:
        return first(theta)
    rest = lambda t: nested_bracket(net, t, params[1:])  # noqa: E731
    y, dy_along_x = jax.jvp(rest, (theta,), (first(theta),))  # the jvp gives Y(θ) too: traced once
    return dy_along_x - jax.jvp(first, (theta,), (y,))[1]


def _random_params(net: Network, rng: np.random.Generator, count: int):
    """`count` random field parameters (inputs, output weights), stacked for vmap."""
    inputs = rng.standard_normal((count, EXAMPLES_PER_FIELD) + net.input_shape)
    out_shape = jax.eval_shape(lambda x: net.batch(jnp.zeros(net.num_params), x), inputs[0]).shape
    weights = rng.standard_normal((count,) + out_shape)
    if net.classifier:
        weights -= weights.mean(axis=-1, keepdims=True)
    return jnp.asarray(inputs), jnp.asarray(weights)


class _Brackets:
    """The bracket values of one network, level by level: each level's program is traced once
    (θ an argument, not a constant) and reused at every point.

    Compiled (jit) when the traced program is small, else run op by op: XLA's compile time grows
    faster than the program (the level-3 brackets of attention then attention are 9,228 equations,
    19 s to compile and 0.01 s to run; op by op they take 1.5 s, plus about 3 s once per process
    to compile the primitives). Up to JIT_MAX_EQUATIONS, compiling wins (the transformer block's
    level 2: 2,049 equations, 2.5 s)."""

    def __init__(self, net: Network):
        self.net = net
        self.programs: dict[tuple, object] = {}

    def values(self, theta, params: tuple) -> np.ndarray:
        key = (len(params), params[0][0].shape[0])
        if key not in self.programs:
            batched = jax.vmap(lambda t, *p: nested_bracket(self.net, t, p), in_axes=(None,) + (0,) * len(params))
            closed = jax.make_jaxpr(batched)(theta, *params)
            run = jaxpr_as_fun(closed)
            self.programs[key] = jax.jit(run) if len(closed.jaxpr.eqns) <= JIT_MAX_EQUATIONS else run
        (out,) = self.programs[key](*jax.tree_util.tree_leaves((theta, params)))
        return np.asarray(out)


def rank_and_gap(vectors: np.ndarray) -> tuple[int, float]:
    """Numerical rank of the rows and the gap σ_r / σ_{r+1} that decides it."""
    rows = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-300)
    blas_threads.widen_for(rows.shape[0] * rows.shape[1] * min(rows.shape))
    sigma = np.linalg.svd(rows, compute_uv=False)
    floor = vectors.shape[1] * np.finfo(float).eps * sigma[0]
    padded = np.append(np.maximum(sigma, floor), floor)
    ratios = padded[:-1] / padded[1:]
    rank = int(np.argmax(ratios)) + 1
    return rank, float(ratios[rank - 1])


def _switching_point(net: Network, rng: np.random.Generator):
    """A random θ where every ReLU-like neuron switches on a probe batch of inputs (a neuron that
    keeps one sign adds laws locally: the point would not be generic); the best of a few draws."""
    probe = rng.standard_normal((PROBE_INPUTS,) + net.input_shape)
    best = None
    for _ in range(SWITCH_DRAWS):
        theta = net.init(rng)
        constant = net.constant_neurons(jnp.asarray(theta), jnp.asarray(probe))
        if best is None or constant < best[0]:
            best = (constant, theta)
        if constant == 0:
            break
    return jnp.asarray(best[1])


def numerical_trace_of(net: Network, seed: int = 0, brackets: _Brackets | None = None) -> NumericalTrace:
    """dim Lie(V)(θ) at one random θ (every ReLU-like neuron switching on a probe batch), from
    the network's own fields (see the module docstring)."""
    if net.num_params > MAX_PARAMETERS:
        raise CannotDecide(f"D = {net.num_params} is more than the numerical check handles ({MAX_PARAMETERS})")
    if net.num_params == 0:  # no parameter, no field: nothing to conserve
        return NumericalTrace(dimension=0, gap=np.inf, dims=[0])
    brackets = brackets or _Brackets(net)
    rng = np.random.default_rng([seed, 1313])
    theta = _switching_point(net, rng)
    samples = net.num_params + EXTRA_SAMPLES
    vectors = np.zeros((0, net.num_params))
    dims: list[int] = []
    gap = np.inf
    for level in range(MAX_LEVELS):
        params = tuple(_random_params(net, rng, samples) for _ in range(level + 1))
        vectors = np.vstack([vectors, brackets.values(theta, params)])
        rank, gap = rank_and_gap(vectors)
        if dims and rank == dims[-1] or rank == net.num_params:
            dims.append(rank)
            break
        dims.append(rank)
    if gap < MIN_GAP:
        raise CannotDecide(f"singular-value gap {gap:.1e} is below {MIN_GAP:.0e}: float64 cannot decide the rank")
    return NumericalTrace(dims[-1], gap, dims)


def numerical_counts(graph: Graph, seed: int = 0, points: int = POINTS) -> list[tuple[int, float] | None]:
    """(D − dim Lie(V)(θ), singular-value gap) at `points` random θ (None where float64 cannot
    decide), the programs traced once for all points; raises CannotDecide when the network is too
    large."""
    net = build_network(graph)
    brackets = _Brackets(net)
    counts = []
    for point in range(points):
        try:
            trace = numerical_trace_of(net, seed + 7919 * point, brackets)
            counts.append((net.num_params - trace.dimension, trace.gap))
        except CannotDecide:
            if net.num_params > MAX_PARAMETERS:
                raise
            counts.append(None)
    return counts


def numerical_trace(graph: Graph, seed: int = 0) -> tuple[int, float]:
    """(numerical dim Lie(V)(θ), singular-value gap) for a layer graph at one θ; raises CannotDecide."""
    result = numerical_trace_of(build_network(graph), seed)
    return result.dimension, result.gap


def check_status(graph: Graph, laws: int, seed: int = 0, upper_bound: int | None = None) -> dict:
    """`count --check`: the numerical count at POINTS random θ beside φ's, and what it says.

    A ReLU network has more laws where a neuron never switches, so a single θ can show phantom
    laws; the count reported is the minimum over the points where float64 decides, and an excess
    over the count is reported only when every such point shows it and it does not exceed
    `upper_bound` (the network certificate's proved bound, when there is one)."""
    try:
        counts = numerical_counts(graph, seed)
    except CannotDecide as reason:
        return {"numerical_laws": None, "gap": None, "per_point": [], "status": f"numerical check refused: {reason}"}
    per_point = [None if c is None else {"laws": c[0], "gap": c[1]} for c in counts]
    decided = [c for c in counts if c is not None]
    shown = ", ".join("undecided" if c is None else f"{c[0]} (gap {c[1]:.0e})" for c in counts)
    if not decided:
        return {"numerical_laws": None, "gap": None, "per_point": per_point,
                "status": f"numerical check undecided: float64 could not separate the rank at any of {len(counts)} points"}
    numerical, gap = min(c[0] for c in decided), min(c[1] for c in decided)
    where = f"at {len(counts)} random points: {shown}"
    if numerical == laws:
        status = f"numerically confirmed: {numerical} laws ({where})"
    elif upper_bound is not None and numerical > upper_bound:
        status = (f"float64 sees {numerical - laws} more laws than the count at every point where it decides "
                  f"({where}), but the network certificate proves at most {upper_bound} near a point: these random "
                  "points lie where the network has locally more laws (a ReLU network's count can differ between "
                  "regions), or float64 misjudged a rank; not a missing law")
    elif numerical > laws:
        status = (f"the network has {numerical - laws} more laws than the count numerically at every point where "
                  f"float64 decides ({where})")
    else:
        status = (f"numerical check finds {laws - numerical} fewer laws than φ ({where}): a non-generic point or a "
                  "bug; please report")
    return {"numerical_laws": numerical, "gap": gap, "per_point": per_point, "status": status}

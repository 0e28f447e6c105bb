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


def _evaluate(function, args):
    """function(*args), compiled (jit) when its traced program is small, else run op by op.

    XLA's compile time grows faster than the program: the level-3 brackets of attention then
    attention are 9,228 equations, 19 s to compile and 0.01 s to run; op by op they take 1.5 s (plus
    about 3 s once per process to compile the primitives). Up to JIT_MAX_EQUATIONS, compiling wins
    (the transformer block's level 2: 2,049 equations, 2.5 s)."""
    closed = jax.make_jaxpr(function)(*args)
    run = jaxpr_as_fun(closed)
    if len(closed.jaxpr.eqns) <= JIT_MAX_EQUATIONS:
        run = jax.jit(run)
    (out,) = run(*jax.tree_util.tree_leaves(args))
    return out


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


def numerical_trace_of(net: Network, seed: int = 0) -> NumericalTrace:
    """dim Lie(V)(θ) at a random θ, from the network's own fields (see the module docstring)."""
    if net.num_params > MAX_PARAMETERS:
        raise CannotDecide(f"D = {net.num_params} is more than the numerical check handles ({MAX_PARAMETERS})")
    if net.num_params == 0:  # no parameter, no field: nothing to conserve
        return NumericalTrace(dimension=0, gap=np.inf, dims=[0])
    rng = np.random.default_rng([seed, 1313])
    theta = jnp.asarray(net.init(rng))
    samples = net.num_params + EXTRA_SAMPLES
    vectors = np.zeros((0, net.num_params))
    dims: list[int] = []
    gap = np.inf
    for level in range(MAX_LEVELS):
        params = tuple(_random_params(net, rng, samples) for _ in range(level + 1))
        batch = _evaluate(jax.vmap(lambda *p: nested_bracket(net, theta, p)), params)
        vectors = np.vstack([vectors, np.asarray(batch)])
        rank, gap = rank_and_gap(vectors)
        if dims and rank == dims[-1] or rank == net.num_params:
            dims.append(rank)
            break
        dims.append(rank)
    if gap < MIN_GAP:
        raise CannotDecide(f"singular-value gap {gap:.1e} is below {MIN_GAP:.0e}: float64 cannot decide the rank")
    return NumericalTrace(dims[-1], gap, dims)


def numerical_trace(graph: Graph, seed: int = 0) -> tuple[int, float]:
    """(numerical dim Lie(V)(θ), singular-value gap) for a layer graph; raises CannotDecide."""
    result = numerical_trace_of(build_network(graph), seed)
    return result.dimension, result.gap


def check_status(graph: Graph, laws: int, exact: bool, seed: int = 0) -> dict:
    """`count --check`: the numerical count next to φ's, and the status it gives the count."""
    try:
        dimension, gap = numerical_trace(graph, seed)
    except CannotDecide as reason:
        return {"numerical_laws": None, "gap": None, "status": f"{'exact' if exact else 'lower bound'} "
                f"(numerical check refused: {reason})"}
    numerical = graph.num_params - dimension
    if numerical == laws:
        status = f"exact (numerically confirmed, gap {gap:.0e})"
    elif numerical > laws:
        status = (f"lower bound: the network has {numerical - laws} more laws numerically (gap {gap:.0e}) at this "
                  "θ; with ReLU layers, compare another --seed (a neuron that never switches adds laws)")
    else:
        status = (f"numerical check finds {laws - numerical} fewer laws than φ (gap {gap:.0e}): "
                  "a non-generic point or a bug; please report")
    return {"numerical_laws": numerical, "gap": gap, "status": status}

"""The network certificate for networks that are not piecewise polynomial (smooth activations,
attention's softmax), by ball arithmetic: an upper bound on the laws with no probability in it.

Same argument as ``graph.upper_bound`` (docs/method.md §7, "The network certificate"): values at a
point θ₀ of the network's own fields X_{x,w}(θ) = ∂_θ g(θ, x)ᵀ w and of their right-nested brackets
are vectors of Lie(W)(θ₀); if r of them are independent, the network has at most D − r laws near
θ₀. Here the fields are the JAX network's (``training.lie_check``), traced once per bracket level
and evaluated on arb balls (``enclosure``) at a θ₀ and inputs that are exact binary fractions.
The rank is proved by an r × r minor whose determinant ball excludes 0, its rows and columns chosen
by pivoted QR on the balls' midpoints (the choice needs no rigour; the determinant does).

Where the network is analytic in θ (no ReLU-like layer), each minor is an analytic function on
R^D that is nonzero at θ₀, so it is nonzero on a dense open set: the bound then holds for the laws
on every open set. With ReLU layers (signs decided by the balls, never guessed), it holds near θ₀.
"""

from __future__ import annotations

import time

import flint
import numpy as np

from conslaw_cli.graph import Graph

MAX_PARAMETERS = 1_000  # checked before JAX is imported; ball arithmetic runs in Python: D = 64 takes 0.4 s, D = 800 9 s
MAX_LEVELS = 3
SPARE_SAMPLES = 4
GRID = 16  # θ₀ and the inputs are multiples of 1/GRID in [−2, 2]: exact binary fractions
SECONDS = 0.3  # tracing the bracket programs of a small network
SECONDS_PER_ENTRY = 1.5e-5  # one ball of a bracket value, D per sample, about D samples (D = 800: 9.9 s)
JAX_IMPORT_SECONDS = 1.5  # once per process, counted in the engine's time
JAX_BYTES = 190 * 2**20  # the process with JAX imported and the programs traced
BYTES_PER_ENTRY = 730  # an arb ball in an object array, with its share of the traced intermediates (D = 800: 639 MB)


def estimated_seconds(num_params: int) -> float:
    return JAX_IMPORT_SECONDS + SECONDS + SECONDS_PER_ENTRY * num_params ** 2


def estimated_bytes(num_params: int) -> int:
    return JAX_BYTES + BYTES_PER_ENTRY * num_params ** 2


def _dyadic(rng: np.random.Generator, shape, nonzero: bool = False) -> np.ndarray:
    values = rng.integers(1 if nonzero else -2 * GRID, 2 * GRID + 1, shape)
    if nonzero:
        values = values * rng.choice([-1, 1], shape)
    return values / GRID


def _field_parameters(net, rng: np.random.Generator, count: int):
    """(inputs, output weights) of `count` fields, exact binary fractions; a softmax head's weights
    sum to zero exactly (the last entry is minus the sum of the others)."""
    import jax
    import jax.numpy as jnp

    from conslaw_cli.training.lie_check import EXAMPLES_PER_FIELD

    inputs = _dyadic(rng, (count, EXAMPLES_PER_FIELD) + net.input_shape)
    out_shape = jax.eval_shape(lambda x: net.batch(jnp.zeros(net.num_params), x), inputs[0]).shape
    weights = _dyadic(rng, (count,) + out_shape)
    if net.classifier:
        weights[..., -1] = -weights[..., :-1].sum(axis=-1)
    return inputs, weights


def _values(net, theta: np.ndarray, params: tuple) -> np.ndarray:
    """Balls around the bracket values [F_0, [F_1, … F_k]](θ₀), one row per sample. θ₀ is an
    argument of the trace, never a constant: JAX would fold a constant's arithmetic in float64."""
    from . import enclosure  # JAX: imported only when a certificate is computed

    import jax

    from conslaw_cli.training.lie_check import nested_bracket

    leaves = [np.asarray(leaf) for p in params for leaf in p]
    rebuild = lambda flat: tuple((flat[2 * i], flat[2 * i + 1]) for i in range(len(params)))  # noqa: E731
    closed = jax.make_jaxpr(lambda t, *flat: jax.vmap(lambda *p: nested_bracket(net, t, rebuild(p)))(*flat))(
        theta, *leaves)
    (out,) = enclosure.evaluate(closed, enclosure.balls(theta), *map(enclosure.balls, leaves))
    return np.asarray(out, dtype=object)


def proved_rank(rows: np.ndarray, most: int) -> int:
    """The largest r ≤ `most` for which an r × r minor of the balls is proved nonzero (its
    determinant ball excludes 0), trying the numerical rank first and then smaller r."""
    from . import enclosure  # JAX: imported only when a certificate is computed

    from scipy.linalg import qr

    middle = enclosure.midpoints(rows)
    if not middle.size or not np.any(middle):
        return 0
    _, r_factor, row_order = qr(middle.T, mode="economic", pivoting=True)
    sizes = np.abs(np.diag(r_factor))
    rank = min(most, int(np.sum(sizes > sizes[0] * 1e-9)))
    old, flint.ctx.prec = flint.ctx.prec, enclosure.PRECISION
    try:
        while rank > 0:
            chosen = row_order[:rank]
            _, _, column_order = qr(middle[chosen], mode="economic", pivoting=True)
            columns = column_order[:rank]
            minor = flint.arb_mat(rank, rank, [rows[i, j] for i in chosen for j in columns])
            det = minor.det()
            if det > 0 or det < 0:
                return rank
            rank -= max(1, rank // 16)
    finally:
        flint.ctx.prec = old
    return 0


def certify_with_balls(graph: Graph, target_rank: int, seed: int = 0):
    """(proved rank, levels, seconds) at one point, raising enclosure.Undecidable when the balls
    cannot decide a comparison or the network uses a primitive without a ball rule."""
    from conslaw_cli.training.model import build_network

    start = time.perf_counter()
    net = build_network(graph)
    rng = np.random.default_rng([seed, 4099])
    theta = _dyadic(rng, net.num_params, nonzero=True)
    rows = np.zeros((0, net.num_params), dtype=object)
    rank = levels = 0
    for level in range(MAX_LEVELS):
        wanted = (net.num_params if level == 0 else target_rank - rank) + SPARE_SAMPLES
        params = tuple(_field_parameters(net, rng, wanted) for _ in range(level + 1))
        rows = np.concatenate([rows, _values(net, theta, params)])
        grown = proved_rank(rows, target_rank)
        levels = level + 1
        if grown >= target_rank or (level > 0 and grown <= rank):
            rank = max(rank, grown)
            break
        rank = grown
    return rank, levels, time.perf_counter() - start

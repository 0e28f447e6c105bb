"""Rigorous enclosures of a JAX computation: its jaxpr evaluated on arb balls (python-flint).

A JAX function (here: the network's fields and their brackets, built by ``training.lie_check``) is
traced once into a jaxpr; this module runs that jaxpr with every real number replaced by a ball
[m ± r] of FLINT's arb type, at PRECISION bits. Each primitive's arb operation returns a ball that
contains the exact result for every point of its input balls, so every output ball contains the
exact real value of the function at the (exactly representable) inputs. That makes the values
usable in a proof: a determinant ball that excludes 0 proves a matrix of the exact values
nonsingular (``ball_certificate``).

Decisions are made only when the balls decide them: a comparison (a ReLU's sign, max, select)
whose balls overlap raises Undecidable instead of guessing. A max is enclosed by the union of the
balls that may be it. Equations whose results are never used (JAX keeps the dead parts of a
derivative rule, e.g. the JVP of the max inside softmax under stop_gradient) are skipped.
"""

from __future__ import annotations

from functools import reduce

import flint
import numpy as np
from jax.extend.core import Literal

PRECISION = 128  # bits of every ball's midpoint: radii stay near 2^-128 relative through a network


class Undecidable(Exception):
    """A comparison the balls cannot decide, or a primitive this interpreter does not know."""


def balls(values) -> np.ndarray:
    """float64 values (exact binary fractions) as an object array of exact arb balls."""
    array = np.asarray(values, dtype=float)
    return np.array([flint.arb(float(v)) for v in array.reshape(-1)], dtype=object).reshape(array.shape)


def midpoints(values: np.ndarray) -> np.ndarray:
    return np.array([float(v.mid()) for v in values.reshape(-1)]).reshape(values.shape)


def evaluate(closed, *args) -> list:
    """The outputs of a ClosedJaxpr for arguments given as arrays of balls."""
    old, flint.ctx.prec = flint.ctx.prec, PRECISION
    try:
        return _run(closed.jaxpr, [_constant(c) for c in closed.consts], list(args))
    finally:
        flint.ctx.prec = old


def _constant(value):
    array = np.asarray(value)
    return balls(array) if array.dtype.kind == "f" else array


def _live(jaxpr) -> list:
    """The equations whose results reach an output, in order."""
    needed = {id(v) for v in jaxpr.outvars if not _is_literal(v)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(id(v) in needed for v in eqn.outvars):
            kept.append(eqn)
            needed.update(id(v) for v in eqn.invars if not _is_literal(v))
    return kept[::-1]


def _is_literal(var) -> bool:
    return isinstance(var, Literal)


def _run(jaxpr, consts: list, args: list) -> list:
    env = {}
    for var, value in zip(jaxpr.constvars, consts):
        env[id(var)] = value
    for var, value in zip(jaxpr.invars, args):
        env[id(var)] = value

    def read(var):
        return _constant(var.val) if _is_literal(var) else env[id(var)]

    for eqn in _live(jaxpr):
        name = eqn.primitive.name
        rule = RULES.get(name)
        if rule is None:
            raise Undecidable(f"the JAX primitive {name!r} has no ball rule")
        out = rule(*map(read, eqn.invars), **eqn.params)
        for var, value in zip(eqn.outvars, out if eqn.primitive.multiple_results else [out]):
            env[id(var)] = value
    return [read(v) for v in jaxpr.outvars]


# --- rules ---------------------------------------------------------------------------------------

def _elementwise(method):
    return lambda x, **_: np.vectorize(method, otypes=[object])(x)


def _decided(relation):
    """A comparison of balls, elementwise: True/False where the balls decide it, else Undecidable."""
    def compare(a, b, **_):
        a, b = np.broadcast_arrays(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
        yes = np.vectorize(lambda x, y: bool(relation(x, y)), otypes=[bool])(a, b)
        no = np.vectorize(lambda x, y: bool(not_relation[relation](x, y)), otypes=[bool])(a, b)
        if not np.all(yes | no):
            raise Undecidable("a comparison of overlapping balls (a pre-activation too close to 0)")
        return yes
    return compare


def _lt(x, y): return x < y  # noqa: E704
def _le(x, y): return x <= y  # noqa: E704
def _gt(x, y): return x > y  # noqa: E704
def _ge(x, y): return x >= y  # noqa: E704
def _eq(x, y): return x == y  # noqa: E704
def _ne(x, y): return x != y  # noqa: E704


not_relation = {_lt: _ge, _le: _gt, _gt: _le, _ge: _lt, _eq: _ne, _ne: _eq}


def _pick(larger: bool):
    """max or min of two balls: the one the balls prove larger (smaller), else their union,
    which contains both and so the extreme."""
    def pick(x, y):
        if (x >= y) if larger else (x <= y):
            return x
        if (y >= x) if larger else (y <= x):
            return y
        return x.union(y)
    return lambda a, b, **_: np.vectorize(pick, otypes=[object])(*np.broadcast_arrays(
        np.asarray(a, dtype=object), np.asarray(b, dtype=object)))


def _reduce_max(x, axes, **_):
    pick = _pick(True)
    return reduce(lambda acc, axis: np.apply_along_axis(lambda v: reduce(lambda p, q: pick(p, q)[()], v), axis, acc),
                  sorted(axes, reverse=True), np.asarray(x, dtype=object))


def _convert(x, new_dtype, **_):
    x = np.asarray(x)
    if np.dtype(new_dtype).kind == "f":
        return x if x.dtype == object else balls(x.astype(float))
    if x.dtype == object:
        raise Undecidable("a real value converted to an integer")
    return x.astype(new_dtype)


def _broadcast_in_dim(x, shape, broadcast_dimensions, **_):
    x = np.asarray(x)
    expanded = np.expand_dims(x, [d for d in range(len(shape)) if d not in broadcast_dimensions]) if x.ndim else x
    return np.broadcast_to(expanded, shape)


def _slice(x, start_indices, limit_indices, strides=None, **_):
    steps = strides or (1,) * len(start_indices)
    return x[tuple(slice(a, b, s) for a, b, s in zip(start_indices, limit_indices, steps))]


def _pad(x, value, padding_config, **_):
    for axis, (low, high, interior) in enumerate(padding_config):
        x = np.asarray(x, dtype=object)
        if interior:
            pieces = np.split(x, x.shape[axis], axis=axis)
            filler = np.full(pieces[0].shape[:axis] + (interior,) + pieces[0].shape[axis + 1:], value[()], dtype=object)
            x = np.concatenate([p for piece in pieces for p in (piece, filler)][:-1], axis=axis)
        size = x.shape[axis]
        x = np.take(x, range(max(0, -low), size - max(0, -high)), axis=axis)
        pad_shape = lambda n: x.shape[:axis] + (n,) + x.shape[axis + 1:]  # noqa: E731
        x = np.concatenate([np.full(pad_shape(max(0, low)), value[()], dtype=object), x,
                            np.full(pad_shape(max(0, high)), value[()], dtype=object)], axis=axis)
    return x


def _dot_general(a, b, dimension_numbers, **_):
    (contract_a, contract_b), (batch_a, batch_b) = dimension_numbers
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    ia = [next(letters) for _ in range(np.ndim(a))]
    ib = [next(letters) for _ in range(np.ndim(b))]
    for i, j in zip(list(contract_a) + list(batch_a), list(contract_b) + list(batch_b)):
        ib[j] = ia[i]
    batch = [ia[i] for i in batch_a]
    free_a = [ia[i] for i in range(len(ia)) if i not in contract_a and i not in batch_a]
    free_b = [ib[j] for j in range(len(ib)) if j not in contract_b and j not in batch_b]
    spec = f"{''.join(ia)},{''.join(ib)}->{''.join(batch + free_a + free_b)}"
    return np.einsum(spec, np.asarray(a, dtype=object), np.asarray(b, dtype=object))


def _select_n(which, *cases, **_):
    return np.choose(np.asarray(which).astype(int), [np.asarray(c, dtype=object) for c in cases])


def _call(key):
    def call(*args, **params):
        closed = params[key]
        return _run(closed.jaxpr, [_constant(c) for c in closed.consts], list(args))
    return call


RULES = {
    "add": lambda a, b, **_: np.add(a, b), "add_any": lambda a, b, **_: np.add(a, b),
    "sub": lambda a, b, **_: np.subtract(a, b), "mul": lambda a, b, **_: np.multiply(a, b),
    "div": lambda a, b, **_: np.true_divide(a, b), "neg": lambda a, **_: np.negative(a),
    "integer_pow": lambda a, y, **_: np.vectorize(lambda v: v ** y, otypes=[object])(a),
    "square": lambda a, **_: np.multiply(a, a),
    "exp": _elementwise(lambda v: v.exp()), "log": _elementwise(lambda v: v.log()),
    "tanh": _elementwise(lambda v: v.tanh()), "erf": _elementwise(lambda v: v.erf()),
    "logistic": _elementwise(lambda v: 1 / (1 + (-v).exp())), "sqrt": _elementwise(lambda v: v.sqrt()),
    "rsqrt": _elementwise(lambda v: 1 / v.sqrt()), "abs": _elementwise(abs),
    "max": _pick(True), "min": _pick(False), "reduce_max": _reduce_max,
    "gt": _decided(_gt), "lt": _decided(_lt), "ge": _decided(_ge), "le": _decided(_le),
    "eq": _decided(_eq), "ne": _decided(_ne),
    "select_n": _select_n, "stop_gradient": lambda a, **_: a, "copy": lambda a, **_: a,
    "copy_p": lambda a, **_: a, "convert_element_type": _convert,
    "reduce_sum": lambda a, axes, **_: np.sum(np.asarray(a, dtype=object), axis=tuple(axes)),
    "reshape": lambda a, new_sizes, **_: np.reshape(a, new_sizes),
    "broadcast_in_dim": _broadcast_in_dim, "transpose": lambda a, permutation, **_: np.transpose(a, permutation),
    "squeeze": lambda a, dimensions, **_: np.squeeze(a, tuple(dimensions)),
    "expand_dims": lambda a, dimensions, **_: np.expand_dims(a, tuple(dimensions)),
    "slice": _slice, "pad": _pad, "dot_general": _dot_general,
    "concatenate": lambda *xs, dimension, **_: np.concatenate([np.asarray(x, dtype=object) for x in xs], axis=dimension),
    "jit": _call("jaxpr"), "pjit": _call("jaxpr"), "custom_jvp_call": _call("call_jaxpr"),
    "custom_vjp_call": _call("call_jaxpr"),
}

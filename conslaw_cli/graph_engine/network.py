"""A piece of φ as a *gated network*: the function α·φ for rank-one α, and its gradient, on jets.

Why this is enough (Marcotte, Gribonval, Peyré 2023, Prop 3.1 and Thm 3.3 need the span of the
fields ∇(α·φ) and of their brackets): span{∇(α·φ) : α} is the same for every set of α that spans
the coefficient space.  A component of a path-lifting piece is indexed by its chain (source unit,
homogeneous neurons passed, sink unit), every chain has at most one element per layer and distinct
chains are distinct sets, so the products α(chain) = Π_{e ∈ chain} g_e of random per-element
*gains* g span all coefficient vectors (the monomials Π g_e are linearly independent).  With these
α, α·φ is the network itself with the input replaced by the source gains, every homogeneous
activation replaced by multiplication with its neurons' gains, biases fed by a constant unit with
its own gain, skips as edges of weight 1, the softmax head's logits projected on sum-zero vectors,
read out with the sink gains.  One forward and one backward pass give the field's value: the cost
is proportional to the number of connections, whatever the number of paths.

Every layer with weights is a list of *connections* (output unit, input unit, parameter), so that
linear layers, layers shared over tokens and convolutions (shared filter weights) are one case.
Values are jets (see ``arith``): θ carries the directions of the Lie brackets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..graph import HOMOGENEOUS, Layer
from . import arith


@dataclass
class Connections:
    """The weighted edges of one layer: out[k] ← param[k] · in[k] (+ bias[o] · constant)."""

    out_unit: np.ndarray  # (E,) int64
    in_unit: np.ndarray
    param: np.ndarray  # index into the piece's local parameters
    bias: np.ndarray | None  # (out_units,) local parameter of each output unit's bias
    in_units: int
    out_units: int


def layer_connections(layer: Layer, offset_of: dict[str, int]) -> Connections:
    """The connections of a linear, conv or softmax_head layer; parameters numbered through
    `offset_of` (tensor name -> first local index, entries in C order like the variable table)."""
    weight = offset_of[f"{layer.name}.weight"]
    if layer.kind == "conv":
        out_unit, in_unit, param = _conv_edges(layer)
    else:
        out_size, in_size = layer.params["weight"]
        tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
        t, o, i = (a.reshape(-1) for a in np.meshgrid(np.arange(tokens), np.arange(out_size), np.arange(in_size),
                                                      indexing="ij"))
        out_unit, in_unit, param = t * out_size + o, t * in_size + i, o * in_size + i
    in_units, out_units = math.prod(layer.in_shape[1:]), math.prod(layer.out_shape[1:])
    bias = None
    if "bias" in layer.params:
        channels = layer.params["bias"][0]
        per_unit = np.arange(out_units) // (out_units // channels) if layer.kind == "conv" else \
            np.arange(out_units) % channels
        bias = offset_of[f"{layer.name}.bias"] + per_unit
    return Connections(out_unit, in_unit, weight + param, bias, in_units, out_units)


def _conv_edges(layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution edges (README semantics): output position q reads input position
    q·stride + j − ⌊k/2⌋ mod size (circular) or q·stride + j (valid), for kernel offset j."""
    in_channels, *in_spatial = layer.in_shape[1:]
    out_channels, *out_spatial = layer.out_shape[1:]
    kernel, stride = layer.options["kernel"], layer.options["stride"]
    circular = layer.options["padding"] == "circular"
    grids = np.meshgrid(np.arange(out_channels), np.arange(in_channels), *map(np.arange, out_spatial),
                        *map(np.arange, kernel), indexing="ij")
    co, ci = grids[0].reshape(-1), grids[1].reshape(-1)
    qs = [g.reshape(-1) for g in grids[2:2 + len(out_spatial)]]
    js = [g.reshape(-1) for g in grids[2 + len(out_spatial):]]
    out_pos, in_pos, offset = 0, 0, 0
    for q, j, k, s, n_in, n_out in zip(qs, js, kernel, stride, in_spatial, out_spatial):
        source = (q * s + j - k // 2) % n_in if circular else q * s + j
        out_pos, in_pos, offset = out_pos * n_out + q, in_pos * n_in + source, offset * k + j
    out_unit = co * math.prod(out_spatial) + out_pos
    in_unit = ci * math.prod(in_spatial) + in_pos
    param = (co * in_channels + ci) * math.prod(kernel) + offset
    return out_unit, in_unit, param


# --- the program of a piece --------------------------------------------------------------------

@dataclass
class Affine:
    edges: Connections


@dataclass
class Gains:
    """Homogeneous neurons: multiplication by their gains (`first` = index of the first gain)."""

    units: int
    first: int


@dataclass
class Skip:
    """A residual block lifted inline: x + body(x), the skip an edge of weight 1."""

    body: list


@dataclass
class SumZero:
    """The softmax head's projection of the logits on sum-zero vectors, times n (symmetric)."""

    units: int


@dataclass
class Program:
    """A path-lifting segment as operations on unit vectors, with its gains laid out as
    [source units | constant | homogeneous neurons… | sink units]."""

    ops: list
    sources: int
    sinks: int
    num_params: int
    num_gains: int = 0
    has_constant: bool = False


class Unsupported(Exception):
    """A piece the gated-network form does not cover (the expanded-φ engine takes it)."""


def build_program(layers: list[Layer], offset_of: dict[str, int], num_params: int) -> Program:
    """The gated-network program of a path-lifting segment (no smooth activation inside)."""
    counter = {"gains": 0, "constant": False}

    def build(seq: list[Layer], units: int) -> tuple[list, int]:
        ops = []
        for layer in seq:
            if layer.kind in ("linear", "conv", "softmax_head"):
                edges = layer_connections(layer, offset_of)
                counter["constant"] |= edges.bias is not None
                ops.append(Affine(edges))
                units = edges.out_units
                if layer.kind == "softmax_head":
                    ops.append(SumZero(units))
            elif layer.kind in HOMOGENEOUS:
                ops.append(Gains(units, counter["gains"]))
                counter["gains"] += units
            elif layer.kind == "residual":
                body, _ = build(layer.body, units)
                ops.append(Skip(body))
            elif layer.kind not in ("identity", "flatten"):
                raise Unsupported(layer.kind)
        return ops, units

    sources = math.prod(layers[0].in_shape[1:])
    ops, sinks = build(layers, sources)
    program = Program(ops, sources, sinks, num_params, has_constant=counter["constant"])
    program.num_gains = sources + 1 + counter["gains"] + sinks
    return program


# --- evaluation on jets -------------------------------------------------------------------------
# shapes: θ (B, J, n) per-sample jet points; activations (B, J, units); gains (B, num_gains)

@dataclass
class _Tape:
    saved: list = field(default_factory=list)


def _gather_mul(theta: np.ndarray, param: np.ndarray, values: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Per edge: θ[param] · values[units], as jets (B, J, E)."""
    return arith.jet_product(theta[:, :, param], values[:, :, units], arith.mul, 1, 1, 1)


def _segment_sum(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Sum of per-edge jets into their target units: (B, J, E) -> (B, J, size)."""
    return arith.scatter_add(values, index, size)


def forward(program: Program, theta: np.ndarray, gains: np.ndarray, tape: _Tape) -> np.ndarray:
    """Sink values of the gated network (B, J, sinks); inputs are the source gains."""
    batch, jets = theta.shape[:2]
    h = np.zeros((batch, jets, program.sources), dtype=np.uint64)
    h[:, 0, :] = gains[:, :program.sources]
    constant = gains[:, program.sources]
    first_gain = program.sources + 1
    return _run(program.ops, h, theta, gains, constant, first_gain, tape)


def _run(ops, h, theta, gains, constant, first_gain, tape):
    for op in ops:
        if isinstance(op, Affine):
            tape.saved.append(h)
            e = op.edges
            out = _segment_sum(_gather_mul(theta, e.param, h, e.in_unit), e.out_unit, e.out_units)
            if e.bias is not None:
                out = arith.add(out, arith.mul(theta[:, :, e.bias], constant[:, None, None]))
            h = out
        elif isinstance(op, Gains):
            g = gains[:, first_gain + op.first:first_gain + op.first + op.units]
            h = arith.mul(h, g[:, None, :])
        elif isinstance(op, Skip):
            h = arith.add(h, _run(op.body, h, theta, gains, constant, first_gain, tape))
        elif isinstance(op, SumZero):
            h = _sum_zero(h, op.units)
    return h


def _sum_zero(h: np.ndarray, n: int) -> np.ndarray:
    """z -> n z − (Σ z) 1."""
    total = arith.sum_mod(h, axis=2)[:, :, None]
    return arith.sub(arith.mul(h, np.uint64(n)), total)


def gradient(program: Program, theta: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """∇_θ (α·φ) at the jet points θ (B, J, n) for the rank-one α of each row of `gains`."""
    tape = _Tape()
    forward(program, theta, gains, tape)
    batch, jets = theta.shape[:2]
    delta = np.zeros((batch, jets, program.sinks), dtype=np.uint64)
    delta[:, 0, :] = gains[:, program.num_gains - program.sinks:]
    grad = np.zeros(theta.shape, dtype=np.uint64)
    constant = gains[:, program.sources]
    _back(program.ops, delta, theta, gains, constant, program.sources + 1, tape, grad)
    return grad


def _back(ops, delta, theta, gains, constant, first_gain, tape, grad):
    for op in reversed(ops):
        if isinstance(op, Affine):
            e = op.edges
            h = tape.saved.pop()
            # ∂/∂θ[param]: δ[out] · h[in]; ∂/∂h[in]: θ[param] · δ[out]
            weight_grad = arith.jet_product(delta[:, :, e.out_unit], h[:, :, e.in_unit], arith.mul, 1, 1, 1)
            grad[:] = arith.add(grad, arith.scatter_add(weight_grad, e.param, grad.shape[2]))
            if e.bias is not None:
                bias_grad = arith.mul(delta, constant[:, None, None])
                grad[:] = arith.add(grad, arith.scatter_add(bias_grad, e.bias, grad.shape[2]))
            delta = _segment_sum(_gather_mul(theta, e.param, delta, e.out_unit), e.in_unit, e.in_units)
        elif isinstance(op, Gains):
            g = gains[:, first_gain + op.first:first_gain + op.first + op.units]
            delta = arith.mul(delta, g[:, None, :])
        elif isinstance(op, Skip):
            delta = arith.add(delta, _back(op.body, delta, theta, gains, constant, first_gain, tape, grad))
        elif isinstance(op, SumZero):
            delta = _sum_zero(delta, op.units)
    return delta

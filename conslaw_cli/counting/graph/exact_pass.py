"""The network evaluated exactly at integer parameters and inputs: its activation pattern.

The network certificate (``upper_bound``) takes the fields of the network itself at one real point
θ₀. In a network of linear, convolution, ReLU, leaky-ReLU, abs, power and residual layers, those
fields depend on the side of zero of every pre-activation (a power neuron xᵖ has none; relu(x)ᵖ
switches like a ReLU); deciding a side in floating point could be
wrong, so here every value is exact. θ₀ and the inputs are integers, so every pre-activation is an
integer (a dyadic rational after a leaky slope, which is a binary float). The pass runs in float64
when float64 is provably exact: the same pass on |θ₀| and |x| with every gain replaced by its
largest size bounds every partial sum of the real pass, and integers below 2^53 add and multiply
exactly in float64. Otherwise (deep or wide networks, fractional slopes, averages over windows
whose size is not a power of two) it runs on Python integers and fractions (numpy object arrays).
A max pool's selection is decided like a neuron's side: the largest entry of each window, a tie
between two entries a boundary of the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .network import Affine, Dense, Gains, Pool, Power, Program, Skip, SumZero, Unsupported, program_ops

EXACT_FLOAT_LIMIT = 2.0 ** 52  # below this every integer and every sum of two of them is exact in float64


@dataclass
class Pattern:
    """The gain of every homogeneous neuron at every input: 1 where the pre-activation is
    positive; below zero 0 (relu), the slope (leaky_relu) or −1 (abs). `ties[i]`: some
    pre-activation of input i is exactly 0 (the input lies on a boundary of the pattern), except
    one fed straight by a neuron of gain 0 (relu after relu): that value is 0 on a whole
    neighbourhood of θ₀, so its gain does not matter."""

    gains: np.ndarray  # (inputs, neurons), object: int or Fraction
    ties: np.ndarray  # (inputs,) bool


def _slope(layer) -> Fraction:
    if layer.kind in ("relu", "power"):  # relu(x)ᵖ is 0 below zero
        return Fraction(0)
    if layer.kind == "abs":
        return Fraction(-1)
    return Fraction(layer.options["slope"])  # a binary float: its exact value


def _affine(edges, theta: np.ndarray, h: np.ndarray) -> np.ndarray:
    """W h (+ b) of one Dense or Patches layer on rows of unit values (inputs, units)."""
    if isinstance(edges, Dense):
        if edges.per_token or edges.transposed:
            raise Unsupported("attention")
        weights = theta[edges.first:edges.first + edges.out * edges.inn].reshape(edges.out, edges.inn)
        out = (h.reshape(h.shape[0], edges.tokens, edges.inn) @ weights.T).reshape(h.shape[0], -1)
    else:
        width = edges.patch.shape[1]
        weights = theta[edges.first:edges.first + edges.out_channels * width].reshape(edges.out_channels, width)
        out = np.swapaxes(h[:, edges.patch] @ weights.T, 1, 2).reshape(h.shape[0], -1)
    return out if edges.bias is None else out + theta[edges.bias]


def _run(ops: list, h: np.ndarray, theta: np.ndarray, at_neurons, seen=lambda h: None) -> np.ndarray:
    """The pass through `ops`: `at_neurons(op, pre)` gives a Gains op's output, `seen(h)` is
    shown every layer's output."""
    for op in ops:
        if isinstance(op, Affine):
            h = _affine(op.edges, theta, h)
        elif isinstance(op, (Gains, Power)) or (isinstance(op, Pool) and op.gated):
            h = at_neurons(op, h)
        elif isinstance(op, Pool):  # an average (a reshaping: windows of one unit)
            h = _average(h[:, op.windows].sum(axis=2), op.windows.shape[1])
        elif isinstance(op, Skip):
            h = _run(op.body, h, theta, at_neurons, seen) + _run(op.shortcut, h, theta, at_neurons, seen)
        elif isinstance(op, SumZero):
            h = op.units * h - h.sum(axis=1, keepdims=True)
        else:
            raise Unsupported(type(op).__name__)
        seen(h)
    return h


def _average(total: np.ndarray, size: int) -> np.ndarray:
    """total / size, exactly: in float64 only for a power of two (`_fits_float64` checks)."""
    if size == 1:
        return total
    return total * (1 / size if total.dtype != object else Fraction(1, size))


def _fits_float64(program: Program, theta: np.ndarray, inputs: np.ndarray) -> bool:
    """Whether every value of the pass, partial sums included, is an integer below 2^52 in size
    (then float64 computes it exactly): the pass on sizes bounds them all."""
    slopes = {op.first: _slope(op.activation) for op in program_ops(program.ops) if isinstance(op, Gains)}
    if any(s.denominator != 1 for s in slopes.values()) or any(
            isinstance(op, Pool) and not op.gated and op.windows.shape[1] & (op.windows.shape[1] - 1)
            for op in program_ops(program.ops)):
        return False
    worst = [float(np.max(np.abs(inputs), initial=0))]

    def see(h):
        worst[0] = max(worst[0], float(np.max(h, initial=0.0)))

    def largest(op, h: np.ndarray) -> np.ndarray:
        """The sizes after a gated op, bounded: a window's largest, a power, or the largest gain."""
        if isinstance(op, Pool):
            return h[:, op.windows].max(axis=2)
        if isinstance(op, Power):
            return h ** op.p
        return h * float(max(1, abs(slopes[op.first])))

    with np.errstate(over="ignore", invalid="ignore"):
        _run(program.ops, np.abs(inputs).astype(float), np.abs(theta).astype(float), largest, see)
    return worst[0] < EXACT_FLOAT_LIMIT  # NaN (an overflow) fails the comparison


def activation_pattern(program: Program, theta: np.ndarray, inputs: np.ndarray) -> Pattern:
    """The exact pattern of the network at integer parameters `theta` (n,) and integer `inputs`
    (count, sources), in the program's gain order."""
    neurons = program.num_gains - program.sources - 1 - program.sinks
    gains = np.empty((inputs.shape[0], neurons), dtype=object)
    ties = np.zeros(inputs.shape[0], dtype=bool)
    exact_float = _fits_float64(program, theta, inputs)

    previous = {"output": None, "silent": None}

    def decide(op: Gains | Power | Pool, pre: np.ndarray) -> np.ndarray:
        if isinstance(op, Pool):
            return select(op, pre)
        if isinstance(op, Power) and not op.activation.options["rectified"]:
            return power(op, pre)
        slope = _slope(op.activation)
        positive, zero = pre > 0, pre == 0
        if pre is previous["output"]:  # straight after an activation: its zero gains keep a 0 there near θ₀
            zero &= ~previous["silent"]
        ties[:] |= zero.any(axis=1)
        gain = np.where(positive, 1, int(slope) if slope.denominator == 1 else slope).astype(object)
        gains[:, op.first:op.first + op.units] = gain
        out = pre * (gain.astype(float) if exact_float else gain)
        if isinstance(op, Power):
            out = out ** op.p
        previous["output"], previous["silent"] = out, gain == 0
        return out

    def power(op: Power, pre: np.ndarray) -> np.ndarray:
        """hᵖ: gain 1 everywhere, no boundary (a polynomial); a 0 stays 0 only where it was held at 0."""
        gains[:, op.first:op.first + op.units] = 1
        out = pre ** op.p
        silent = previous["silent"] if pre is previous["output"] else np.zeros(pre.shape, bool)
        previous["output"], previous["silent"] = out, silent
        return out

    def select(op: Pool, h: np.ndarray) -> np.ndarray:
        """A max pool: gain 1 on the first largest entry of each window, 0 on the others; two
        largest entries that are not both held at 0 by silent neurons are a tie."""
        entries = h[:, op.windows]  # (inputs, out units, k)
        silent = previous["silent"][:, op.windows] if h is previous["output"] else np.zeros(entries.shape, bool)
        largest = entries.max(axis=2)
        at_max = entries == largest[:, :, None]
        ties[:] |= ((at_max & ~silent).sum(axis=2) > 1).any(axis=1)
        chosen = np.argmax(at_max, axis=2)
        gain = np.zeros(entries.shape, dtype=object)
        np.put_along_axis(gain, chosen[:, :, None], 1, axis=2)
        gains[:, op.first:op.first + op.units] = gain.reshape(len(h), -1)
        previous["output"] = largest
        previous["silent"] = np.take_along_axis(silent, chosen[:, :, None], axis=2)[:, :, 0]
        return largest

    if exact_float:
        _run(program.ops, inputs.astype(float), theta.astype(float), decide)
    else:
        _run(program.ops, inputs.astype(object), theta.astype(object), decide)
    return Pattern(gains, ties)

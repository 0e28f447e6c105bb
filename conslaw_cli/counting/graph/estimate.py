"""Cost estimates read off the layer shapes, in O(number of layers), before anything of size D
is allocated: the refusal logic uses them, and `make bench` prints them next to what was measured."""

from __future__ import annotations

import math
from dataclasses import dataclass

from conslaw_cli.graph import Layer

# certificate, fitted to the benchmark's certified cases (2-core machine; MLPs, LeNet, CIFAR
# block, ResNet stage, ResNet-20 shape: every one within 1.5× of what was measured): per parameter
# (paths, peeling, family laws and their gradients) and per entry of the index arrays (units,
# conv patches)
SECONDS_PER_PARAMETER, BYTES_PER_PARAMETER = 3.5e-6, 600
SECONDS_PER_ENTRY, BYTES_PER_ENTRY = 2e-7, 90
SECONDS_PER_USE = 3e-9  # one weight use in a field sample (float64 BLAS on 21-bit limbs)
CERTIFICATE_SECONDS = 0.01  # a certificate's fixed cost: the family machinery, loaded and built
SAMPLE_SECONDS_PER_USE = 1e-8  # dense engine: one weight use of one sample, jets included
# dense engine, fixed costs of small blocks (numpy calls on jets): a block, and a bracket level
# squared (a chain of L linear maps needs about L levels, each on jets of 2^level entries; with
# the ceiling of its Gram laws the trace often stops after one rank: linear 2-4-3-2-3 0.012 s,
# deep linear 8^6 0.084 s, measured here)
SECONDS_PER_BLOCK, SECONDS_PER_LEVEL_SQUARED = 0.01, 0.0005
# the process itself, measured (peak RSS): interpreter, numpy, typer, pyyaml and conslaw 32 MB,
# python-flint 11 MB more when a rank needs it (numba and sympy are not loaded by a count)
BASE_BYTES = 40 * 2**20


@dataclass
class Cost:
    seconds: float
    bytes: int

    def text(self) -> str:
        return f"about {self.seconds:,.1f} s and {self.bytes / 2**30:,.2f} GB"


def edges(layers: list[Layer]) -> int:
    """Weight uses of one pass (multiply–adds): shared weights count every use."""
    total = 0
    for layer in layers:
        if layer.kind in ("linear", "softmax_head", "glu"):
            tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
            total += tokens * math.prod(layer.params["weight"])
        elif layer.kind == "conv":
            total += math.prod(layer.out_shape[1:]) * math.prod(layer.params["weight"][1:])
        total += edges(layer.inner)
    return total


def _index_entries(layers: list[Layer]) -> int:
    """Entries of the index arrays the certificate builds: units, parameters and conv patches."""
    total = 0
    for layer in layers:
        total += math.prod(layer.in_shape[1:]) + math.prod(layer.out_shape[1:]) + layer.own_params
        if layer.kind == "conv":
            total += math.prod(layer.out_shape[2:]) * math.prod(layer.params["weight"][1:])
        total += _index_entries(layer.inner)
    return total


def certificate_cost(layers: list[Layer]) -> Cost:
    """Index arrays and sparse path rows, plus two field samples for the family check."""
    entries, params = _index_entries(layers), sum(l.num_params for l in layers)
    return Cost(CERTIFICATE_SECONDS + params * SECONDS_PER_PARAMETER + entries * SECONDS_PER_ENTRY
                + edges(layers) * SECONDS_PER_USE, BASE_BYTES + params * BYTES_PER_PARAMETER + entries * BYTES_PER_ENTRY)


def dense_cost(parameters: int, layers_edges: int, depth: int, linear_chain: int = 1) -> Cost:
    """Exact ranks of about n × n matrices (n³ operations, 4 per point, 2 points), about 2n
    samples of `depth` passes each, and the fixed costs of a block whose longest chain of linear
    maps with no activation between has `linear_chain` maps."""
    from conslaw_cli.counting.lie import RANK_SECONDS_PER_CUBE

    seconds = (RANK_SECONDS_PER_CUBE * parameters ** 3 + 2 * parameters * layers_edges * depth * SAMPLE_SECONDS_PER_USE
               + SECONDS_PER_BLOCK + SECONDS_PER_LEVEL_SQUARED * linear_chain ** 2)
    return Cost(seconds, BASE_BYTES + 3 * 8 * parameters ** 2)


def linear_chain(layers: list[Layer]) -> int:
    """The longest run of layers with weights and no activation between them."""
    longest = run = 0
    for layer in layers:
        if layer.params:
            run += 1
            longest = max(longest, run)
        elif layer.kind not in ("identity", "flatten"):
            run = 0
    return max(longest, 1)


def block_cost(block, certified: bool) -> Cost:
    """The estimate of one block of a count (a blocks.DenseBlock), for the time left in progress
    lines: its certificate, or its dense trace at both points (an attention pair: a chain of two
    maps on its parameters)."""
    n = block.fields.num_vars
    if block.layers is None:
        return dense_cost(n, n, 2, 2)
    if certified:
        return certificate_cost(block.layers)
    return dense_segment_cost(block.layers, n)


def dense_segment_cost(layers: list[Layer], parameters: int) -> Cost:
    """`dense_cost` of a segment of layers whose block has `parameters` coupled parameters."""
    return dense_cost(parameters, edges(layers), len(layers), linear_chain(layers))

"""Cost estimates read off the layer shapes, in O(number of layers), before anything of size D
is allocated: the refusal logic uses them, and `make bench` prints them next to what was measured."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..graph import Layer

BYTES_PER_EDGE = 120  # connection arrays, sorts and path rows of the certificate (measured, ×1.5)
SECONDS_PER_EDGE = 1.5e-7  # certificate: index arrays, sorts and peeling (measured on the benchmarks)
SAMPLE_SECONDS_PER_EDGE = 2e-7  # dense engine: one field sample, per connection and jet product
MAX_BYTES = 8 * 2**30


@dataclass
class Cost:
    seconds: float
    bytes: int

    def text(self) -> str:
        return f"about {self.seconds:,.1f} s and {self.bytes / 2**30:,.2f} GB"


def edges(layers: list[Layer]) -> int:
    """Number of weighted connections (one per weight use: shared weights count every use)."""
    total = 0
    for layer in layers:
        if layer.kind in ("linear", "softmax_head"):
            tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
            total += tokens * math.prod(layer.params["weight"])
        elif layer.kind == "conv":
            out_units = math.prod(layer.out_shape[1:])
            total += out_units * math.prod(layer.params["weight"][1:])
        total += edges(layer.body)
    return total


def certificate_cost(layers: list[Layer]) -> Cost:
    e = edges(layers)
    return Cost(e * SECONDS_PER_EDGE, e * BYTES_PER_EDGE)


def dense_cost(parameters: int, layers_edges: int, depth: int) -> Cost:
    """Exact ranks of about n × n matrices (n³ operations, 4 per point, 2 points) and n samples."""
    from ..lie import RANK_SECONDS_PER_CUBE

    seconds = RANK_SECONDS_PER_CUBE * parameters ** 3 + 2 * parameters * layers_edges * depth * SAMPLE_SECONDS_PER_EDGE
    return Cost(seconds, 3 * 8 * parameters ** 2)

"""Field values and Lie brackets of one block of the graph engine, at jet points.

Brackets are computed as in the expanded engine, [X, Y](θ) = D_{X(θ)}Y(θ) − D_{Y(θ)}X(θ), by
appending a direction as a new nilpotent ε (the jet axis doubles); only the fields differ: here a
field X_g = ∇(α_g·φ) is the gradient of the gated network for random gains g (see ``network``).
"""

from __future__ import annotations

import numpy as np

from conslaw_cli.counting import gf
from . import arith
from .network import Program, gradient

MEMORY_BUDGET = 4_000_000  # uint64 entries of jet values per batch (32 MB)


class GraphFields:
    """The fields of one block, for ``lie.block_trace``: ``num_vars``, ``degree``,
    ``num_components`` (an upper bound on dim V_0 used to size the first batch) and ``samples``."""

    def __init__(self, program: Program, depth: int, num_components: int, edges: int):
        self.program = program
        self.num_vars = program.num_params
        self.degree = 2 * depth + 1  # degree of a field's entries in (θ, gains), for Schwartz–Zippel
        self.num_components = num_components
        self.edges = edges  # connections: the cost of one pass

    def gradient(self, gains: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return gradient(self.program, theta, gains)

    def bracket_value(self, gains: list[np.ndarray], theta: np.ndarray) -> np.ndarray:
        """Value at the jet points θ (B, J, n) of [X_{g1}, [X_{g2}, … X_{gL}]]."""
        if len(gains) == 1:
            return self.gradient(gains[0], theta)
        jets = theta.shape[1]
        along_x = self.gradient(gains[0], theta)
        theta = np.broadcast_to(theta, along_x.shape)
        inner = self.bracket_value(gains[1:], np.concatenate([theta, along_x], axis=1))
        y, dy_along_x = inner[:, :jets], inner[:, jets:]
        dx_along_y = self.gradient(gains[0], np.concatenate([theta, y], axis=1))[:, jets:]
        return arith.sub(dy_along_x, dx_along_y)

    def samples(self, level: int, count: int, theta: np.ndarray, rng: gf.Residues) -> np.ndarray:
        """`count` random level-`level` bracket values at θ, as rows (count, n)."""
        return self.samples_with(level, count, theta, lambda rows: rng.residues((rows, self.program.num_gains)))

    def samples_with(self, level: int, count: int, theta: np.ndarray, draw_gains) -> np.ndarray:
        """`count` level-`level` bracket values at θ, each field's gains drawn by
        `draw_gains(rows)` (rows, num_gains), as rows (count, n); batched within MEMORY_BUDGET."""
        per_sample = (2 ** level) * max(self.num_vars, self.edges)
        chunk = max(1, MEMORY_BUDGET // per_sample)
        rows = []
        for start in range(0, count, chunk):
            b = min(chunk, count - start)
            gains = [draw_gains(b) for _ in range(level + 1)]
            rows.append(self.bracket_value(gains, theta[None, None, :])[:, 0, :])
        return np.concatenate(rows)

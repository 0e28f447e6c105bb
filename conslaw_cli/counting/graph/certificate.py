"""Sandwich certificates: the exact count of a block without a dense rank.

Two bounds that need no dense D × D rank, both evaluated at a random point θ with no zero entry:

* **above** (on the number of laws): the gradient of a single path component φ_c = Π_{w ∈ c} θ_w
  has one nonzero entry per layer, Π_{u ≠ w} θ_u ≠ 0. One path is chosen through every weight
  (through reference edges), duplicates removed, and the rank of these sparse rows is bounded
  below by *peeling*: a row that is alone in some column is independent of all the others, so it
  is counted and removed, again and again. A nonzero minor mod p is a nonzero integer minor, and a
  rank at one point is at most the generic rank, so dim Lie(V) ≥ dim V_0 ≥ peeled rows and
  laws ≤ D − peeled, deterministically.
* **below**: the laws of the families named in the papers (per-neuron rescaling, Marcotte,
  Gribonval, Peyré 2023, Ex. 2.2 and 2025, Thm 3.6; Gram laws, 2023, Prop 4.1) are checked to be
  laws of this φ, ∇h · ∇(α·φ) = 0 at random (θ, gains) (a polynomial identity: Schwartz–Zippel),
  and the rank of their gradients at θ (by peeling as well) bounds the number of laws from below.

When the bounds meet, the count is exact (with the error bound of the family check). Applies to
segments whose components are single paths (`path_plan`): linear or conv layers separated by
homogeneous activations (identity and flatten in between are transparent; a normalization's
diagonal γ ⊙ n + β may stand anywhere, each of its units has one incoming edge), and residual blocks
lifted inline with an activation after the add (the skip an edge of weight 1, or one edge of a
projection shortcut; its candidate rows are added per block, and what peeling leaves of them is
ranked exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from conslaw_cli.counting import gf
from conslaw_cli.graph import HOMOGENEOUS, WINDOWED, Layer, unit_windows
from . import arith
from .network import Program, gradient, layer_connections


@dataclass
class Certificate:
    """The two bounds for one segment; `exact` when they meet."""

    parameters: int
    peeled_rank: int  # dim V_0(θ) ≥ this (deterministic)
    family_laws: int  # laws ≥ this (families checked at random points)
    error_bound: float
    families: int = 0  # candidate families inside the segment, every one checked

    @property
    def exact(self) -> bool:
        return self.parameters - self.peeled_rank == self.family_laws


@dataclass
class PathPlan:
    """The weighted layers of a single-path segment in main-line order (through residual bodies),
    and the first and last of them inside each residual block lifted inline (its skip): identity
    skips with the units whose path across is a row, projection shortcuts with their layer."""

    weighted: list[Layer]
    skips: list[tuple[int, int, np.ndarray]]  # first, last weighted layer of a body; units whose skip is a row
    shortcuts: list[tuple[int, int, Layer]]  # first, last weighted layer of a body; its shortcut
    # pooling and reshaping layers before weighted layer l (key l; key len(weighted): after the last)
    windowed: dict[int, list[Layer]] = field(default_factory=dict)


def path_plan(layers: list[Layer]) -> PathPlan | None:
    """The plan of a segment whose components are single paths, or None.

    Every path must cross a homogeneous activation between two weighted layers (else the linear
    maps contract into sums of paths). A residual block lifted inline counts as two branches from
    the homogeneous units before it: its body, a single-path chain with an activation inside, and
    the skip, an edge of weight 1 or of a projection shortcut (one weighted layer between the
    same homogeneous units); after the add, the next weighted layer needs an activation first (a
    ReLU after the add). Identity, flatten and the reshapings are transparent. Outside residual
    blocks, a max pool gates its edges like an activation (an edge is a chain element, so it fixes
    the unit a path comes from); an average keeps paths single only where each unit entering it is
    a source or a neuron and lies in at most one window (non-overlapping windows)."""
    plan = PathPlan([], [], [])
    state = _walk_single_path(layers, "start", plan, top_level=True)
    return plan if state is not None and plan.weighted else None


def single_path_layers(layers: list[Layer]) -> list[Layer] | None:
    """The weighted layers of a single-path segment (see `path_plan`), or None."""
    plan = path_plan(layers)
    return plan.weighted if plan else None


def _walk_single_path(layers, state, plan: PathPlan, top_level):
    """Follow the state (start, hom: the last unit passed is homogeneous; weighted: a weighted layer
    since) through `layers`, collecting weighted layers in `plan`; None where two weighted layers meet."""
    weighted = plan.weighted
    for layer in layers:
        if layer.kind in ("linear", "conv"):
            if state == "weighted" or _wraps(layer):
                return None
            weighted.append(layer)
            state = "weighted"
        elif layer.kind == "scale":  # a normalization's γ ⊙ n + β: one edge per unit, no paths merge
            weighted.append(layer)
        elif layer.kind in HOMOGENEOUS:
            state = "hom"
        elif layer.kind in WINDOWED and top_level:
            averaged = layer.kind in ("avg_pool", "global_avg_pool")
            if averaged and (state == "weighted" or _overlapping(layer)):
                return None
            plan.windowed.setdefault(len(weighted), []).append(layer)
            state = "hom" if layer.kind == "max_pool" else state
        elif layer.kind == "residual" and top_level and state in ("start", "hom") and layer.body:
            first = len(weighted)
            end = _walk_single_path(layer.body, state, plan, top_level=False)
            if end is None or len(weighted) == first:
                return None
            if layer.shortcut:
                plan.shortcuts.append((first, len(weighted) - 1, layer.shortcut))
                state = "weighted"
            else:
                plan.skips.append((first, len(weighted) - 1, _skip_units(layer.in_shape)))
                state = end if end == "weighted" else "hom"
        elif layer.kind not in ("identity", "flatten"):
            return None
    return state


def _overlapping(layer: Layer) -> bool:
    """An average pool some of whose windows share an input unit (a stride below the kernel)."""
    return layer.kind == "avg_pool" and any(s < k for s, k in zip(layer.options["stride"], layer.options["kernel"]))


def unit_maps(windowed: list[Layer], in_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Through consecutive pooling or reshaping layers: for each unit after them, the first unit
    of its window before them (`back`), and for each unit before them, the first unit after them
    whose window holds it, or -1 when none does (`forward`: the positions a pool drops)."""
    back, forward = np.arange(in_units), np.arange(in_units)
    for layer in windowed:
        windows = unit_windows(layer)
        first_after = np.full(math.prod(layer.in_shape[1:]), -1, dtype=np.int64)
        owners = np.repeat(np.arange(len(windows)), windows.shape[1])
        first_after[windows.reshape(-1)[::-1]] = owners[::-1]  # the first window wins
        back = back[windows[:, 0]]
        forward = np.where(forward >= 0, first_after[np.maximum(forward, 0)], -1)
    return back, forward


def _skip_units(shape: tuple) -> np.ndarray:
    """The units whose path across a skip is a candidate row: every unit of a vector; of a signal
    or an image, two positions per channel (the first and the middle one). The skip rows need
    only break the per-channel rescaling of the units after the add, which a main-line path
    keeps; one row per unit would tie the rows into cycles that peeling cannot open."""
    if shape[0] not in ("image", "signal"):
        return np.arange(math.prod(shape[1:]))
    channels, positions = shape[1], math.prod(shape[2:])
    return (np.arange(channels)[:, None] * positions + np.array(sorted({0, positions // 2}))[None, :]).reshape(-1)


def _wraps(layer: Layer) -> bool:
    """A circular conv whose kernel is longer than its input: two kernel offsets read the same
    input unit, so an edge's weight is a sum of filter entries and paths are not single."""
    return layer.kind == "conv" and layer.options["padding"] == "circular" and \
        any(k > n for k, n in zip(layer.options["kernel"], layer.in_shape[2:]))


def candidate_paths(weighted: list, skips: list = (), shortcuts: list = (), windowed: dict | None = None) -> np.ndarray:
    """One path through every weight and bias, as rows of parameter indices (one column per
    weighted layer, then one per shortcut; -1 where a path does not pass), duplicates removed;
    dead ends dropped.

    The path through a weight's reference edge goes back along each unit's first incoming edge
    and forward along each unit's first outgoing edge (``references()`` of `Dense`, `Patches`):
    through the residual bodies. For each skip (first, last) of a residual block, one more path per
    selected unit u entering the block: back from u, across the skip, forward from u after the add;
    for each projection shortcut (first, last, its edges), one path through every shortcut weight's
    reference edge (i → o): back from i, across the weight, forward from o after the add.
    `windowed` (`PathPlan.windowed`): pooling and reshaping layers between weighted layers, which
    paths cross through `unit_maps`."""
    depth = len(weighted)
    refs = [e.references() for e in weighted]
    maps = {l: unit_maps(layers, weighted[l - 1].out_units) for l, layers in (windowed or {}).items() if l > 0}
    # back[l]: for the input units of layer l, the parameters of the reference path to a source
    back = [np.full((weighted[0].in_units, depth), -1, dtype=np.int64)]
    for l, (first_in, _, _) in enumerate(refs[:-1]):
        src, par = first_in
        chain = np.where(src[:, None] >= 0, back[l][np.maximum(src, 0)], -2)
        chain[:, l] = np.where(src >= 0, par, -2)
        back.append(chain[maps[l + 1][0]] if l + 1 in maps else chain)
    # fwd[l]: for the output units of layer l, the parameters of the reference path to a sink
    fwd = [None] * depth
    fwd[-1] = np.full((weighted[-1].out_units, depth), -1, dtype=np.int64)
    if depth in maps:  # units that no window after the last layer reads: no path ends there
        fwd[-1][maps[depth][1] < 0] = -2
    for l in range(depth - 2, -1, -1):
        dst, par = refs[l + 1][1]
        if l + 1 in maps:  # from the units before the pools: through the first window holding each
            after = maps[l + 1][1]
            dst, par = (np.where(after >= 0, a[np.maximum(after, 0)], -1) for a in (dst, par))
        chain = np.where(dst[:, None] >= 0, fwd[l + 1][np.maximum(dst, 0)], -2)
        chain[:, l + 1] = np.where(dst >= 0, par, -2)
        fwd[l] = chain
    rows = []
    for l, (e, (_, _, (params, i, o))) in enumerate(zip(weighted, refs)):
        path = _joined(back[l][i], fwd[l][o])
        path[:, l] = params
        rows.append(path)
        if e.bias is not None:
            biases, units = np.unique(e.bias, return_index=True)
            path = fwd[l][units].copy()
            path[:, :l] = -1
            path[:, l] = biases
            rows.append(path)
    for first, last, units in skips:  # the skip keeps unit u: back from u before, forward from u after
        path = _joined(back[first][units], fwd[last][units])
        rows.append(path[(path >= 0).any(1)])

    def widened(path: np.ndarray) -> np.ndarray:  # the shortcut columns, not passed
        return np.pad(path, ((0, 0), (0, len(shortcuts))), constant_values=-1)

    rows = [widened(r) for r in rows]
    for s, (first, last, edges) in enumerate(shortcuts):
        params, i, o = edges.references()[2]
        path = widened(_joined(back[first][i], fwd[last][o]))
        path[:, depth + s] = params
        rows.append(path)
    paths = np.concatenate(rows)
    return distinct_rows(paths[~(paths == -2).any(1)])


def _joined(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Paths back along `before` and forward along `after` (the two chains fill disjoint columns);
    a row that meets a dead end (-2) in either is -2 throughout (`candidate_paths` drops it)."""
    path = np.maximum(before, after)
    path[(before == -2).any(1) | (after == -2).any(1)] = -2
    return path


def distinct_rows(rows: np.ndarray) -> np.ndarray:
    """The distinct rows of an integer matrix, in the order they first appear. Rows are sorted by a
    random-multiplier hash (a 1-D sort: 30 ms on the 307,600 × 22 paths of ResNet-20, where
    np.unique(axis=0) sorts rows lexicographically in 1.6 s) and equal neighbours dropped; rows
    whose hashes collide without being equal would hide duplicates, so they fall back to
    np.unique (the ranks built on the rows do not depend on their order)."""
    if len(rows) < 2:
        return rows
    multipliers = np.random.default_rng(0).integers(1, 2**63, rows.shape[1], dtype=np.uint64) | np.uint64(1)
    with np.errstate(over="ignore"):
        hashes = (rows.astype(np.uint64) * multipliers).sum(axis=1, dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    same_hash = hashes[order[1:]] == hashes[order[:-1]]
    same_row = same_hash & (rows[order[1:]] == rows[order[:-1]]).all(axis=1)
    if (same_hash & ~same_row).any():
        return np.unique(rows, return_index=True, axis=0)[0]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = ~same_row
    return rows[np.sort(order[first])]


def distinct(a: np.ndarray) -> np.ndarray:
    """np.unique of a 1-D array, sorted; asking for the indices too keeps numpy 2 from importing
    numpy.ma (10 ms of a small count) to test for masked arrays."""
    return np.unique(a, return_index=True)[0]


def path_gradients(paths: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Entry of ∇φ_c at each parameter of path c: the product of the path's other weights."""
    values = np.where(paths >= 0, theta[np.maximum(paths, 0)], np.uint64(1))
    depth = paths.shape[1]
    prefix = [np.ones(len(paths), dtype=np.uint64)]
    for l in range(depth - 1):
        prefix.append(arith.mul(prefix[-1], values[:, l]))
    suffix = [np.ones(len(paths), dtype=np.uint64)]
    for l in range(depth - 1, 0, -1):
        suffix.append(arith.mul(suffix[-1], values[:, l]))
    suffix.reverse()
    return np.stack([arith.mul(prefix[l], suffix[l]) for l in range(depth)], axis=1)


def peel(columns: np.ndarray, num_columns: int) -> tuple[int, np.ndarray]:
    """Lower bound on the rank of sparse rows with the given nonzero columns (-1 = none) and
    nonzero values there: (rows peeled, mask of the rows left over).

    A row alone in a column is outside the span of the others: count it, remove it, repeat."""
    flat_rows = np.repeat(np.arange(len(columns)), columns.shape[1])
    flat_cols = columns.reshape(-1)
    valid = flat_cols >= 0
    return peel_entries(flat_rows[valid], flat_cols[valid], len(columns), num_columns)


def peel_entries(flat_rows: np.ndarray, flat_cols: np.ndarray, num_rows: int, num_columns: int) -> tuple[int, np.ndarray]:
    """`peel` on the nonzero entries given as (row, column) pairs (rows of any lengths)."""
    alive = np.ones(num_rows, dtype=bool)
    peeled = 0
    while True:
        live = alive[flat_rows]
        counts = np.bincount(flat_cols[live], minlength=num_columns)
        single = live & (counts[flat_cols] == 1)
        rows = distinct(flat_rows[single])
        if len(rows) == 0:
            return peeled, alive
        peeled += len(rows)
        alive[rows] = False


def sparse_rank_lower_bound(rows: list[dict[int, int]], num_columns: int) -> int:
    """The rank of sparse rows {column: nonzero value}, bounded below: peeling, then the exact rank
    of the small groups of what is left (`leftover_rank`)."""
    lengths = [len(r) for r in rows]
    flat_rows = np.repeat(np.arange(len(rows)), lengths)
    flat_cols = np.fromiter((c for r in rows for c in r), dtype=np.int64, count=sum(lengths))
    peeled, left = peel_entries(flat_rows, flat_cols, len(rows), num_columns)
    return peeled + (leftover_rank([r for r, alive in zip(rows, left) if alive]) if left.any() else 0)


def _sparse_rows(paths: np.ndarray, values: np.ndarray) -> list[dict[int, int]]:
    """Path gradients as rows {parameter: value} (the entries of the columns a path passes)."""
    return [{int(c): int(v) for c, v in zip(row, vals) if c >= 0} for row, vals in zip(paths.tolist(), values.tolist())]


def family_law_gradients(families, theta_global: np.ndarray, variables: np.ndarray) -> list[dict[int, int]]:
    """Gradients at θ of family laws (quadratic polynomials), as sparse rows {local index: value}
    over `variables` (sorted global indices)."""
    position = {int(v): k for k, v in enumerate(variables)}
    theta = theta_global.tolist()
    return [{position[v]: g for v, g in gf.poly_gradient(entry, theta).items()}
            for family in families for entry in family.entries]


def certify(program: Program, layers: list[Layer], local: dict[str, int], global_of_local: np.ndarray,
            families, rng: gf.Residues, degree: int) -> Certificate:
    """Both bounds for one segment (see the module docstring)."""
    n = program.num_params
    theta = rng.nonzero(n)  # no zero entry: pivots are nonzero
    paths = segment_paths(layers, local)
    peeled, left = peel(paths, n)
    # the families, in local numbering, checked against random fields of this segment
    inside = set(global_of_local.tolist())
    families = [f for f in families if all(v in inside for e in f.entries for m in e for v in m)]
    theta_global = np.zeros(int(global_of_local.max()) + 1, dtype=np.uint64)
    theta_global[global_of_local] = theta
    rows = family_law_gradients(families, theta_global, global_of_local)
    gains = rng.residues((2, program.num_gains))
    fields = gradient(program, np.broadcast_to(theta[None, None, :], (2, 1, n)).copy(), gains)[:, 0, :]
    for row in rows:
        products = arith.mul(fields[:, list(row)], np.array(list(row.values()), dtype=np.uint64)[None, :])
        if arith.sum_mod(products, axis=1).any():
            raise AssertionError("internal error: a family law of this segment fails the field check")
    family_rank = sparse_rank_lower_bound(rows, n)
    if n - peeled > family_rank and left.any():  # skips close cycles that peeling cannot open
        peeled += leftover_rank(_sparse_rows(paths[left], path_gradients(paths[left], theta)))
    bound = 2 * len(rows) * (degree + 2) / gf.PRIME
    return Certificate(n, peeled, family_rank, bound, len(families))


def segment_paths(layers: list[Layer], local: dict[str, int]) -> np.ndarray:
    """The candidate paths of a single-path segment (`candidate_paths`), in local parameter numbers."""
    plan = path_plan(layers)
    weighted = [layer_connections(layer, local) for layer in plan.weighted]
    shortcuts = [(first, last, layer_connections(layer, local)) for first, last, layer in plan.shortcuts]
    return candidate_paths(weighted, plan.skips, shortcuts, plan.windowed)


def leftover_rank(grads: list[dict[int, int]]) -> int:
    """A lower bound on the rank of sparse rows that peeling left: the exact rank of every group of
    rows sharing variables that is small enough for a dense rank (groups are independent)."""
    from conslaw_cli.counting.lie import exact_rank

    total = 0
    for group in _connected(grads):
        used = sorted({v for g in group for v in g})
        if len(group) * len(used) > DENSE_ENTRIES:
            continue  # too large for a dense rank: the bound stays a bound
        position = {v: k for k, v in enumerate(used)}
        rows = np.zeros((len(group), len(used)), dtype=np.uint64)
        for i, g in enumerate(group):
            for v, value in g.items():
                rows[i, position[v]] = value
        total += exact_rank(rows)
    return total


DENSE_ENTRIES = 4_000_000


def _connected(rows: list[dict]) -> list[list[dict]]:
    """Rows grouped by shared variables (rows of different groups are independent of each other,
    so ranks add up): union–find over the variables."""
    parent: dict[int, int] = {}

    def find(v: int) -> int:
        while parent.setdefault(v, v) != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for row in rows:
        first = find(next(iter(row)))
        for v in row:
            parent[find(v)] = first
    groups: dict[int, list[dict]] = {}
    for row in rows:
        groups.setdefault(find(next(iter(row))), []).append(row)
    return list(groups.values())

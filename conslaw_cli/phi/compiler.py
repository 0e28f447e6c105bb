"""Intermediate graph -> the factorization φ: polynomials in named parameters, with provenance.

The rules are those of docs/method.md §5 (Marcotte et al. 2023, §4; Marcotte et al. 2025, §3):

* every scalar parameter is a variable; a polynomial is a dict {monomial: integer coefficient},
  a monomial a sorted tuple of variable indices (with repetition for powers);
* path lifting: a component is the sum of the weight products of all paths that join the same
  source (input unit, constant unit of the biases, output of a smooth or power neuron) to the
  same sink (output unit, input of such a neuron) through the same homogeneous neurons (relu,
  leaky_relu, abs); linear neurons are summed over (contraction), smooth neurons and power
  neurons (xᵖ, relu(x)ᵖ: homogeneous of degree p, not 1) cut paths;
* convolutions are linear maps whose entries are filter weights (weight sharing), linear layers
  on tokens share their weights over tokens: identical components are emitted once;
* pooling: an average is a fixed linear map (weights 1/k, the window's size); a max passes one
  window entry on, which one depends on the data, so each edge (output unit, window entry) is
  gated like a homogeneous neuron and is a chain element; components with fractional
  coefficients are scaled to integers (a constant factor per component spans the same gradients);
* a softmax head is the last linear map of the homogeneous segment before it, and its logit
  components are projected on sum-zero vectors (Marcotte et al. 2025, Prop 3.11), scaled by the number of
  classes to keep integer coefficients;
* attention contributes (Q_hᵀK_h, V_hᵀO_h) per head (Marcotte et al. 2025, Thm 3.8);
* residual blocks, attention layers and the layers between them are compiled as separate
  pieces whose φ's are concatenated (docs/method.md §5: with identity skips this spans the same as the
  full path lifting; ``full_path_lifting`` below builds the latter for checking).

Additive constants are dropped from components (they do not change gradients).
"""

from __future__ import annotations

import functools
import gc
import itertools
import math
from fractions import Fraction
from contextlib import contextmanager
from dataclasses import dataclass, field

from conslaw_cli.errors import ConslawError
from conslaw_cli.graph import (GATED, HOMOGENEOUS, NORMS, PATH_ENDING, POWER, WINDOWED, Graph, Layer, affine_part,
                               glu_projection, unit_windows, walk_layers)
from conslaw_cli.limits import DEFAULT_MAX_TERMS, MAX_BYTES, amount
from conslaw_cli.sanitize import latex_mathrm

Monomial = tuple[int, ...]
Poly = dict[Monomial, int]
BYTES_PER_TERM = 400  # peak memory per term of the expanded φ, measured like the time
MICROSECONDS_PER_TERM = 6  # measured on the zoo and the benchmarks (2-core machine)


@dataclass(slots=True)
class Component:
    """One component φ_i with where it comes from."""

    poly: Poly
    piece: str
    chain: tuple[str, ...]  # source and homogeneous neurons passed (shared with other components)
    sink: str = ""  # where the paths end (or a description)

    @property
    def provenance(self) -> str:
        return f"{self.piece}: " + " → ".join(self.chain + ((self.sink,) if self.sink else ()))


@dataclass
class Piece:
    """A part of the network compiled on its own, and what backs its φ."""

    name: str
    kind: str  # "path lifting", "attention"
    rich: bool
    reason: str
    formula: str = ""  # φ of the piece in words/symbols (plain text)
    formula_latex: str = ""


@dataclass
class Phi:
    """The factorization: named variables, components, pieces, and whether φ is rich."""

    variables: list[str]
    components: list[Component]
    pieces: list[Piece] = field(default_factory=list)

    @property
    def rich(self) -> bool:
        """Theorem-backed: the laws of φ are all the laws of g (docs/method.md §1, §5)."""
        return pieces_rich(self.pieces)

    @property
    def richness(self) -> str:
        return pieces_richness(self.pieces)


def pieces_rich(pieces: list[Piece]) -> bool:
    """A φ made of these pieces is rich when it has one piece with parameters, and it is rich."""
    with_params = [p for p in pieces if p.kind != "empty"]
    return not with_params or (len(with_params) == 1 and with_params[0].rich)


def pieces_richness(pieces: list[Piece]) -> str:
    """Why φ made of these pieces is rich, or why its count is only a lower bound."""
    with_params = [p for p in pieces if p.kind != "empty"]
    if not with_params:
        return "no parameters: nothing is conserved or moves"
    if len(with_params) == 1:
        return with_params[0].reason
    reasons = "; ".join(f"{p.name}: {p.reason}" for p in with_params)
    return ("lower bound: concatenated φ of several pieces (per-block laws are exact, Marcotte et al. 2025, "
            f"Thm 4.6; no theorem covers the laws across pieces) — {reasons}")


class VariableTable:
    """Names every scalar parameter; variable index order is the graph's parameter order."""

    def __init__(self, graph: Graph):
        self.offsets: dict[str, tuple[int, tuple[int, ...]]] = {}
        size = 0
        for name, shape in graph.parameter_tensors():
            self.offsets[name] = (size, shape)
            size += math.prod(shape)

    @functools.cached_property
    def names(self) -> list[str]:
        """`tensor[i,j]` for every parameter, made on first use (indices alone do not need them),
        one axis at a time: each name is one concatenation (the 109,386 parameters of an MNIST
        MLP: 0.01 s, against 0.085 s formatting every index tuple)."""
        names: list[str] = []
        for name, (_, shape) in self.offsets.items():
            if not shape:
                names.append(f"{name}[]")
                continue
            grown = [f"{name}["]
            for axis, size in enumerate(shape):
                close = "]" if axis == len(shape) - 1 else ","
                indices = [str(i) + close for i in range(size)]
                grown = [prefix + index for prefix in grown for index in indices]
            names.extend(grown)
        return names

    def index(self, tensor: str, *idx: int) -> int:
        offset, shape = self.offsets[tensor]
        flat = 0
        for i, n in zip(idx, shape):
            flat = flat * n + i
        return offset + flat


# --- connectivity: which inputs and weights feed each output unit of a linear-type layer -----

Connection = list[tuple[int, int]]  # (input unit, weight variable)


def _connections(layer: Layer, variables: VariableTable) -> tuple[list[Connection], list[int | None]]:
    """For each output unit of a linear/conv/softmax_head layer: its (input unit, weight) pairs
    and its bias variable (None without bias). Units are flattened in shape order."""
    weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"
    has_bias = "bias" in layer.params
    if layer.kind == "conv":
        return _conv_connections(layer, variables)
    if layer.kind == "scale":  # a normalization's γ ⊙ n + β: unit (t, j) reads unit (t, j) alone
        units, dim = math.prod(layer.in_shape[1:]), layer.in_shape[-1]
        return ([[(u, variables.index(weight, u % dim))] for u in range(units)],
                [variables.index(bias, u % dim) if has_bias else None for u in range(units)])
    out_size, in_size = layer.params["weight"]
    tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
    conns, biases = [], []
    for t in range(tokens):
        for o in range(out_size):
            conns.append([(t * in_size + i, variables.index(weight, o, i)) for i in range(in_size)])
            biases.append(variables.index(bias, o) if has_bias else None)
    return conns, biases


def _conv_connections(layer: Layer, variables: VariableTable) -> tuple[list[Connection], list[int | None]]:
    """Convolution as a linear map with shared filter weights (Marcotte et al. 2025, App. E)."""
    in_channels, *in_spatial = layer.in_shape[1:]
    weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"
    positions = math.prod(in_spatial)
    patches = _conv_patches(layer)
    conns, biases = [], []
    for co in range(layer.out_shape[1]):
        for patch in patches:
            conns.append([(ci * positions + unit, variables.index(weight, co, ci, *offsets))
                          for offsets, unit in patch for ci in range(in_channels)])
            biases.append(variables.index(bias, co) if "bias" in layer.params else None)
    return conns, biases


def _conv_patches(layer: Layer) -> list[list[tuple[tuple[int, ...], int]]]:
    """For each output position q of a conv (in shape order): (kernel offsets j, flattened input
    position read) for every j. Output position q reads input position q*stride + j (valid) or
    (q*stride + j - k//2) mod size (circular), in each spatial dimension."""
    in_spatial, out_spatial = layer.in_shape[2:], layer.out_shape[2:]
    kernel, stride = layer.options["kernel"], layer.options["stride"]
    circular = layer.options["padding"] == "circular"
    place = [math.prod(in_spatial[d + 1:]) for d in range(len(in_spatial))]  # row-major strides
    patches = []
    for q in itertools.product(*map(range, out_spatial)):
        patch = []
        for offsets in itertools.product(*map(range, kernel)):
            source = ((qd * sd + jd - kd // 2) % nd if circular else qd * sd + jd
                      for qd, jd, kd, sd, nd in zip(q, offsets, kernel, stride, in_spatial))
            patch.append((offsets, sum(i * step for i, step in zip(source, place))))
        patches.append(patch)
    return patches


# --- path lifting -----------------------------------------------------------------------------

Lifted = dict[tuple[str, ...], Poly]  # chain (source, homogeneous neurons) -> polynomial
CONSTANT = "1"


def _times_variable(poly: Poly, var: int) -> Poly:
    return {tuple(sorted(m + (var,))): c for m, c in poly.items()}


def _accumulate(target: Lifted, chain: tuple[str, ...], poly: Poly, scale: int = 1) -> None:
    acc = target.setdefault(chain, {})
    for m, c in poly.items():
        acc[m] = acc.get(m, 0) + scale * c


def _integral(poly: Poly) -> Poly:
    """A component with integer coefficients: scaled by the common denominator of an average
    pool's weights 1/k (a constant factor, so the same gradient span), zero terms dropped."""
    denominator = math.lcm(*(c.denominator for c in poly.values() if isinstance(c, Fraction)))
    return {m: int(c * denominator) for m, c in poly.items() if c}


class _PathLifter:
    """Propagates lifted polynomials unit by unit through one piece (see module docstring)."""

    def __init__(self, piece: str, size: int, variables: VariableTable, source: str):
        self.piece = piece
        self.variables = variables
        self.units: list[Lifted] = [{(f"{source}[{i}]",): {(): 1}} for i in range(size)]
        self.emitted: list[Component] = []
        self.neuron_prefix = source

    def linear(self, layer: Layer) -> None:
        conns, biases = _connections(layer, self.variables)
        new_units = []
        for conn, bias in zip(conns, biases):
            lifted: Lifted = {}
            for unit, var in conn:
                for chain, poly in self.units[unit].items():
                    if chain in lifted:
                        _accumulate(lifted, chain, _times_variable(poly, var))
                    else:
                        lifted[chain] = _times_variable(poly, var)
            if bias is not None:
                _accumulate(lifted, (CONSTANT,), {(bias,): 1})
            new_units.append(lifted)
        self.units = new_units
        self.neuron_prefix = layer.name

    def pool(self, layer: Layer) -> None:
        """A pooling or reshaping layer (module docstring): averages sum their window with weight
        1/k (a reshaping: a window of one unit, weight 1); a max pool's edges are gated, each a
        chain element `POOL[u,m]`."""
        windows = unit_windows(layer)
        weight = Fraction(1, windows.shape[1]) if windows.shape[1] > 1 else 1
        gated = layer.kind == "max_pool"
        new_units = []
        for u, window in enumerate(windows):
            lifted: Lifted = {}
            for m, unit in enumerate(window):
                for chain, poly in self.units[unit].items():
                    if gated:
                        _accumulate(lifted, chain + (f"{layer.name}[{u},{m}]",), poly)
                    else:
                        _accumulate(lifted, chain, poly, weight)
            new_units.append(lifted)
        self.units = new_units
        self.neuron_prefix = layer.name

    def homogeneous(self) -> None:
        self.units = [{chain + (f"{self.neuron_prefix}[{u}]",): poly for chain, poly in lifted.items()}
                      for u, lifted in enumerate(self.units)]

    def end_paths(self) -> None:
        """Each unit is a sink (the input of a smooth or power neuron) and the source of new paths."""
        for u, lifted in enumerate(self.units):
            label = f"{self.neuron_prefix}[{u}]"
            self.emit(lifted, label)
            self.units[u] = {(label,): {(): 1}}

    def restart(self, layer: Layer) -> None:
        """New sources, one per output unit of `layer` (a gated unit's products `NAME.out[u]`)."""
        self.units = [{(f"{layer.name}.out[{u}]",): {(): 1}} for u in range(_size(layer.out_shape))]
        self.neuron_prefix = layer.name

    def softmax_projection(self) -> None:
        """Logits z -> n z - (Σ z) 1: the sum-zero projection, times n (Marcotte et al. 2025, Prop 3.11)."""
        n = len(self.units)
        total: Lifted = {}
        for lifted in self.units:
            for chain, poly in lifted.items():
                _accumulate(total, chain, poly)
        projected = []
        for lifted in self.units:
            new: Lifted = {}
            for chain, poly in lifted.items():
                _accumulate(new, chain, poly, n)
            for chain, poly in total.items():
                _accumulate(new, chain, poly, -1)
            projected.append(new)
        self.units = projected

    def emit(self, lifted: Lifted, sink: str) -> None:
        self.emitted.extend(Component(_integral(poly), self.piece, chain, sink) for chain, poly in lifted.items())

    def finish(self) -> list[Component]:
        units, self.units = self.units, []
        for u in range(len(units)):
            lifted, units[u] = units[u], None  # release each unit's table as soon as it is emitted
            self.emit(lifted, f"{self.neuron_prefix}[{u}]")
        return self.emitted


def _size(shape) -> int:
    return math.prod(shape[1:])


def _lift_layers(lifter: _PathLifter, layers: list[Layer]) -> None:
    """Run the path lifting through plain layers; residual blocks inline, the skip an edge of weight 1
    (or, with a projection shortcut, the edges of its linear map)."""
    for layer in layers:
        if layer.kind in ("linear", "conv", "softmax_head"):
            lifter.linear(layer)
            if layer.kind == "softmax_head":
                lifter.softmax_projection()
        elif layer.kind in HOMOGENEOUS:
            lifter.homogeneous()
        elif layer.kind == GATED:  # the paths end at the projection's outputs, restart at the products
            lifter.linear(glu_projection(layer))
            lifter.end_paths()
            lifter.restart(layer)
        elif layer.kind in PATH_ENDING:
            lifter.end_paths()
            if layer.params:  # a normalization's γ ⊙ n + β on the new sources
                lifter.linear(affine_part(layer))
        elif layer.kind in WINDOWED:
            lifter.pool(layer)
        elif layer.kind == "residual":
            skipped = [dict(lifted) for lifted in lifter.units]
            _lift_layers(lifter, layer.body)
            if layer.shortcut:  # the skip S x: one more linear layer on the units entering the block
                body_units, body_prefix, lifter.units = lifter.units, lifter.neuron_prefix, skipped
                lifter.linear(layer.shortcut)
                skipped, lifter.units, lifter.neuron_prefix = lifter.units, body_units, body_prefix
            for lifted, skip in zip(lifter.units, skipped):
                for chain, poly in skip.items():
                    _accumulate(lifted, chain, poly)
        elif layer.kind not in ("identity", "flatten"):
            raise ValueError(f"path lifting does not handle {layer.kind}")


def _has_params(layers: list[Layer]) -> bool:
    return any(l.params or _has_params(l.inner) for l in layers)


def _path_ending_kinds(layers: list[Layer]) -> set[str]:
    return {l.kind for l in walk_layers(layers) if l.kind in PATH_ENDING}


def describe_plain(layers: list[Layer], values_from: Layer | None = None) -> Piece:
    """What backs the φ of a path-lifting piece (read off its layers, nothing is lifted)."""
    name = "+".join(l.name for l in layers if l.params or l.body) or layers[0].name
    if values_from is not None:
        return Piece(f"{values_from.name} values+{name}", "path lifting", False,
                     "lower bound: the attention's values V_hᵀO_h composed with the following layers (a valid "
                     "factorization; no theorem says it is rich)",
                     f"φ = path lifting from the values of {values_from.name}, (V_hᵀO_h)[i,:] per head h and input i",
                     r"\varphi(\theta) = \text{path lifting from } (V_h^\top O_h)_h")
    if not _has_params(layers):
        return Piece(name, "empty", True, "no parameters")
    formula, formula_latex = _formula(layers)
    ending = _path_ending_kinds(layers)
    if ending & set(NORMS + (GATED,)):
        cuts = [text for text, kinds in (("normalization", set(NORMS)), ("gated units", {GATED}),
                                          ("smooth activations", set(PATH_ENDING) - set(NORMS) - {GATED, POWER}))
                if ending & kinds]
        return Piece(name, "path lifting", False, f"lower bound: {' and '.join(cuts)} ({', '.join(sorted(ending))}) "
                     "cut the paths; φ is not proved rich (the laws of their symmetries are added by Noether's "
                     "theorem)", formula, formula_latex)
    if ending - {POWER}:
        return Piece(name, "path lifting", False, f"lower bound: smooth activations ({', '.join(sorted(ending))}) "
                     "cut the paths; φ is not proved rich", formula, formula_latex)
    if ending:
        return Piece(name, "path lifting", False, "lower bound: power activations (homogeneous of degree p > 1) cut "
                     "the paths; φ is not proved rich (the rescaling laws across them are checked in the network)",
                     formula, formula_latex)
    windowed = sorted({l.kind for l in walk_layers(layers) if l.kind in WINDOWED})
    if windowed:
        return Piece(name, "path lifting", False, f"lower bound: pooling or reshaping ({', '.join(windowed)}) in "
                     "the paths; no theorem says this path lifting is rich", formula, formula_latex)
    kinds = {l.kind for l in layers}
    source_text = ("Marcotte et al. 2025, Thm 3.6 (conv)" if "conv" in kinds else
                   "Marcotte et al. 2025, Prop 3.11 (softmax head)" if kinds == {"softmax_head"} else
                   "Marcotte et al. 2023, §4 (linear and ReLU path lifting)")
    return Piece(name, "path lifting", True, f"theorem-backed: {source_text}", formula, formula_latex)


def _plain_piece(layers: list[Layer], variables: VariableTable, source: str,
                 upstream: PieceLayout | None = None) -> tuple[list[Component], Piece]:
    piece = describe_plain(layers, upstream.layers[0] if upstream else None)
    lifter = _PathLifter(piece.name, _size(layers[0].in_shape), variables, source)
    if upstream is not None:
        lifter.units = _attention_values(upstream, variables, merges_tokens(layers))
    _lift_layers(lifter, layers)
    return (lifter.finish() if piece.kind != "empty" else []), piece


def _attention_values(piece: PieceLayout, variables: VariableTable, per_token: bool = False) -> list[Lifted]:
    """The output units (token t, j) of the attention of `piece` as lifted polynomials: the paths
    start at the value sources (head h, input path class i) with the weight (MᵀV_hᵀO_h)[i, j], M the
    units entering the attention (`_input_map`; the identity when nothing is composed into it). The
    attention matrix mixes tokens with data-dependent weights, which f absorbs.

    The sources are (h, i) for every token alike when the layers after treat tokens alike; when
    they merge tokens (`flatten`), unit (t, j) reads token t's own sources (h, t, i): the data
    reaching token t, Σ_s A_ts x_s, differs from token to token, so paths of different tokens must
    stay different components (summed over t they would not factor the network)."""
    layer = piece.layers[0]
    heads, tokens, dim = layer.options["heads"], layer.in_shape[1], layer.in_shape[2]
    units: list[Lifted] = [{} for _ in range(tokens * dim)]
    m = _input_map(piece, variables)
    for h in range(heads):
        values = _composed(_head_product(layer, variables, "V", "O", h), m, right=False)
        for t, (i, row), j in itertools.product(range(tokens), enumerate(values), range(dim)):
            source = f"{layer.name}.values.h{h}" + (f".t{t}" if per_token else "") + f"[{i}]"
            units[t * dim + j][(source,)] = row[j]
    return units


def merges_tokens(layers: list[Layer]) -> bool:
    """Whether a run after an attention mixes its tokens' units (a flatten, a global pool, a transpose)."""
    return any(l.kind in ("flatten", "global_avg_pool", "transpose") or merges_tokens(l.inner) for l in layers)


def poly_product(a: Poly, b: Poly) -> Poly:
    """a·b for polynomials {monomial: coefficient}."""
    out: Poly = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m = tuple(sorted(ma + mb))
            out[m] = out.get(m, 0) + ca * cb
    return {m: c for m, c in out.items() if c}


def poly_sum(polys) -> Poly:
    """The sum of polynomials {monomial: coefficient}, zero terms dropped."""
    out: Poly = {}
    for poly in polys:
        for m, c in poly.items():
            out[m] = out.get(m, 0) + c
    return {m: c for m, c in out.items() if c}


def _matrix_product(a: list[list[Poly]], b: list[list[Poly]]) -> list[list[Poly]]:
    """a · b for matrices of polynomials."""
    return [[poly_sum(poly_product(row[k], b[k][j]) for k in range(len(b)) if row[k] and b[k][j])
             for j in range(len(b[0]))] for row in a]


def _head_product(layer: Layer, variables: VariableTable, left: str, right: str, h: int) -> list[list[Poly]]:
    """(left_hᵀ right_h)[i, j] of one head: Q_hᵀK_h or V_hᵀO_h (rows h·head_dim … of both)."""
    head_dim, dim = layer.options["head_dim"], layer.in_shape[2]
    rows = range(h * head_dim, (h + 1) * head_dim)
    return [[{tuple(sorted((variables.index(f"{layer.name}.{left}", a, i), variables.index(f"{layer.name}.{right}", a, j)))): 1
              for a in rows} for j in range(dim)] for i in range(dim)]


# Composed φ are expanded (the graph engine does not cover them): beyond this many terms the pieces
# stay apart (a lower bound the graph engine counts) rather than being refused for size.
COMPOSE_MAX_TERMS = 1_000_000
TOKEN_WISE = ("linear", "identity") + HOMOGENEOUS  # layers that act on each token alike, path by path


def composed_terms(attention: Layer, paths: int) -> tuple[int, int]:
    """Terms of (MᵀQ_hᵀK_hM, MᵀV_hᵀO_h) over all heads when the units entering one token carry
    `paths` terms in all (M the identity: `paths` = dim), and the terms of the values that each
    output unit carries on (Σ_h of a row of MᵀV_hᵀO_h)."""
    heads, head_dim, dim = attention.options["heads"], attention.options["head_dim"], attention.in_shape[2]
    return heads * head_dim * (paths ** 2 + paths * dim), heads * head_dim * paths


def _token_terms(run: list[Layer], entering: list[int]) -> list[int]:
    """Polynomial terms of each unit of one token after path lifting through a token-wise run."""
    for layer in run:
        if layer.kind == "linear":
            entering = [sum(entering) + ("bias" in layer.params)] * layer.out_shape[-1]
    return entering


def composable_into_attention(run: list[Layer], attention: Layer, upstream: PieceLayout | None = None) -> bool:
    """Whether the layers before an attention layer are token-wise path-lifting layers (linear,
    with or without bias, and homogeneous activations), and, without an `upstream` attention whose
    values enter them, carry weights: then the attention reads each token only through its lifted
    units x'_i = Σ_c σ_c(x) x_c P_ci(θ) (path classes c, activation signs σ_c), and φ contracts
    the matrix P = (P_ci) into its bilinear forms: (PᵀQ_hᵀK_hP, PᵀV_hᵀO_h), if that φ stays small."""
    if not all(l.kind in TOKEN_WISE for l in run) or (upstream is None and not _has_params(run)):
        return False
    return composed_terms(attention, _entering_terms(run, attention, upstream))[0] <= COMPOSE_MAX_TERMS


def _entering_terms(run: list[Layer], attention: Layer, upstream: PieceLayout | None) -> int:
    """Polynomial terms of the units entering one token of `attention` after `run`, lifted from
    the values of `upstream` or from single sources."""
    dim_in = (run[0] if run else attention).in_shape[-1]
    return sum(_token_terms(run, [upstream.value_terms if upstream else 1] * dim_in))


def _input_map(piece: PieceLayout, variables: VariableTable) -> list[list[Poly]] | None:
    """P = (P_ic): the units i entering the attention of `piece` (one token's) lifted through the
    layers composed into it, a column per path class c (source — input unit, constant of the
    biases or value source of an upstream attention — and homogeneous neurons passed). Without
    ReLUs and biases this is the product of the linear layers' weights. None: nothing composed."""
    if not piece.composed:
        return None
    layer = piece.layers[0]
    lifter = _PathLifter("", _size((piece.inputs or piece.layers)[0].in_shape), variables, piece.source)
    if piece.upstream is not None:
        lifter.units = _attention_values(piece.upstream, variables)
    _lift_layers(lifter, piece.inputs)
    units = lifter.units[:layer.in_shape[2]]
    classes = list(dict.fromkeys(chain for unit in units for chain in unit))
    return [[unit.get(chain, {}) for chain in classes] for unit in units]


def _composed(form: list[list[Poly]], m: list[list[Poly]] | None, right: bool) -> list[list[Poly]]:
    """Mᵀ·form (and ·M with `right`); the form itself without M."""
    if m is None:
        return form
    transposed = [list(column) for column in zip(*m)]
    left = _matrix_product(transposed, form)
    return _matrix_product(left, m) if right else left


def _formula(layers: list[Layer]) -> tuple[str, str]:
    """φ of a path-lifting piece in closed form when it has one (text, LaTeX)."""
    params = [l for l in layers if l.params]
    tex = latex_mathrm
    biases = any("bias" in l.params for l in params)
    if all(l.kind == "linear" for l in params) and all(l.kind in ("linear", "identity") for l in layers):
        names = [f"{l.name}.weight" for l in reversed(params)]
        note = " (biases as edges from a constant input)" if biases else ""
        return ("φ = entries of " + "·".join(names) + note,
                r"\varphi(\theta) = " + r"\,".join(tex(n) for n in names) + (r"\ \text{(with biases)}" if biases else ""))
    if [l.kind for l in params] == ["softmax_head"] and all(l.kind in ("identity", "flatten", "softmax_head")
                                                               for l in layers):
        w = f"{params[0].name}.weight"
        return (f"φ = entries of P·{w}, P = n·I − 11ᵀ (sum-zero projection of the logits)",
                rf"\varphi(\theta) = P\,{tex(w)},\ P = nI - \mathbf{{1}}\mathbf{{1}}^\top")
    return ("φ = path lifting: sums of weight products along paths, grouped by the homogeneous neurons passed",
            r"\varphi(\theta) = \text{path lifting}")


def describe_attention(layer: Layer, inputs: list[Layer] = (), upstream: Layer | None = None) -> Piece:
    """What backs the φ of an attention layer (Marcotte et al. 2025, Thm 3.8, Cor 3.10), with the
    layers `inputs` (and the values of an `upstream` attention) composed into it."""
    formula = "φ = (Q_hᵀK_h, V_hᵀO_h) for each head h"
    formula_latex = r"\varphi(\theta) = (Q_h^\top K_h,\ V_h^\top O_h)_{h}"
    if inputs or upstream:
        linear = [l for l in inputs if l.kind == "linear"]
        before = ([f"{upstream.name} values"] if upstream else []) + [l.name for l in inputs if l.params]
        if upstream is None and len(linear) == len(inputs) and not any("bias" in l.params for l in linear):
            m = "·".join(f"{l.name}.weight" for l in reversed(linear))
        else:
            m = ("the path lifting of the units entering it (" + ", ".join(before + [l.name for l in inputs if not l.params])
                 + "), a column per path class")
        return Piece("+".join(before + [layer.name]), "attention", False,
                     f"lower bound: the layers before {layer.name} composed into its bilinear forms "
                     "(a valid factorization; no theorem says it is rich)",
                     f"φ = (MᵀQ_hᵀK_hM, MᵀV_hᵀO_h) for each head h, M = {m}",
                     r"\varphi(\theta) = (M^\top Q_h^\top K_h M,\ M^\top V_h^\top O_h)_{h}")
    if layer.options.get("causal"):
        return Piece(layer.name, "attention", False, "lower bound: a causal mask (φ = (Q_hᵀK_h, V_hᵀO_h) stays a "
                     "valid factorization; Marcotte et al. 2025, Thm 3.8 is stated without a mask)", formula, formula_latex)
    if layer.options["heads"] == 1:
        return Piece(layer.name, "attention", True,
                     "theorem-backed when (Q,K), (V,O) have full rank: Marcotte et al. 2025, Thm 3.8", formula, formula_latex)
    return Piece(layer.name, "attention", False,
                 "lower bound: multi-head completeness is open (Marcotte et al. 2025, Cor 3.10)", formula, formula_latex)


def _attention_piece(piece: PieceLayout, variables: VariableTable) -> tuple[list[Component], Piece]:
    """(Q_hᵀK_h, V_hᵀO_h) per head; without the values when they continue in the next piece; with
    layers composed into it (M: `_input_map`) (MᵀQ_hᵀK_hM, MᵀV_hᵀO_h)."""
    layer, described = piece.layers[0], piece.describe()
    components = []
    m = _input_map(piece, variables)
    for h in range(layer.options["heads"]):
        for left, right in (("Q", "K"),) if piece.carries_values else (("Q", "K"), ("V", "O")):
            form = _composed(_head_product(layer, variables, left, right, h), m, right=left == "Q")
            label = f"({left}ᵀ{right})" if m is None else f"(Mᵀ{left}ᵀ{right}{'M' if left == 'Q' else ''})"
            components += [Component(poly, described.name, (f"head {h}",), f"{label}[{i},{j}]")
                           for i, row in enumerate(form) for j, poly in enumerate(row) if poly]
    return components, described


def _has_attention(layers: list[Layer]) -> bool:
    return any(l.kind == "attention" or _has_attention(l.inner) for l in layers)


@dataclass
class PieceLayout:
    """One piece of φ before compiling: a run of plain layers (path lifting) or an attention
    layer, and the name of the units its paths start from."""

    kind: str  # "path lifting" or "attention"
    layers: list[Layer]
    source: str
    upstream: PieceLayout | None = None  # the attention whose values V_hᵀO_h enter this piece
    carries_values: bool = False  # attention whose values V_hᵀO_h continue in the next piece
    inputs: list[Layer] = field(default_factory=list)  # attention: token-wise layers composed into it
    value_terms: int = 0  # attention: polynomial terms of the values each output unit carries

    @property
    def values_from(self) -> Layer | None:
        """The attention layer whose values this piece's paths start from."""
        return self.upstream.layers[0] if self.upstream else None

    @property
    def composed(self) -> bool:
        """An attention with layers (or an upstream attention's values) composed into its forms."""
        return self.kind == "attention" and bool(self.inputs or self.upstream)

    def describe(self) -> Piece:
        if self.kind == "attention":
            return describe_attention(self.layers[0], self.inputs, self.values_from)
        return describe_plain(self.layers, self.values_from)


def piece_layout(layers: list[Layer], source: str = "x") -> list[PieceLayout]:
    """Runs of plain layers are path-lifting pieces; residual bodies and attention stand apart.

    A residual block is cut off as its own piece (per-block concatenation, docs/method.md §5) unless it
    follows a homogeneous activation: then the units entering the block are homogeneous neurons
    whose rescaling can only be seen through the skip, and the block is lifted inline. Token-wise
    layers right before an attention (and the values of an attention right before those) are
    composed into its bilinear forms when that stays small (`composable_into_attention`)."""
    out: list[PieceLayout] = []
    run: list[Layer] = []
    attention: list[PieceLayout] = []  # the attention piece right before the current run, if any

    def flush():
        if run:
            piece = PieceLayout("path lifting", list(run), source)
            if attention and _values_continue(run):
                piece.upstream, attention[0].carries_values = attention[0], True
            out.append(piece)
            run.clear()
        attention.clear()

    for layer in layers:
        if layer.kind == "residual" and run and run[-1].kind in HOMOGENEOUS and not _has_attention(layer.inner):
            run.append(layer)
        elif layer.kind == "residual":
            flush()
            # `.in`: the units entering a block with an identity skip (Thm 4.6 backs its block laws);
            # `.x` those of a block with a projection shortcut, which the theorem does not cover
            entering = f"{layer.name}.x" if layer.shortcut else f"{layer.name}.in"
            out.extend(piece_layout(layer.body, source=entering))
            if layer.shortcut:
                out.append(PieceLayout("path lifting", [layer.shortcut], entering))
            source = f"{layer.name}.out"
        elif layer.kind == "attention":
            upstream = attention[0] if attention else None
            piece = PieceLayout("attention", [layer], source)
            if composable_into_attention(run, layer, upstream):
                piece.inputs, piece.upstream = list(run), upstream
                if upstream:
                    upstream.carries_values = True
                run.clear()
            flush()
            piece.value_terms = composed_terms(layer, _entering_terms(piece.inputs, layer, piece.upstream))[1]
            out.append(piece)
            attention.append(piece)
            source = f"{layer.name}.out"
        else:
            run.append(layer)
    flush()
    return out


def _values_continue(run: list[Layer]) -> bool:
    """Whether an attention's values are composed with the run after it: the run has weights
    before its first smooth activation (a smooth neuron would end the value paths at once)."""
    for layer in run:
        if layer.kind in PATH_ENDING:
            return False
        if layer.params or _has_params(layer.inner):
            return True
    return False


def _split_pieces(layers: list[Layer], variables: VariableTable, out: list) -> None:
    """Compile every piece of the layout (see `piece_layout`)."""
    for piece in piece_layout(layers):
        if piece.kind == "attention":
            out.append(_attention_piece(piece, variables))
        else:
            out.append(_plain_piece(piece.layers, variables, piece.source, piece.upstream))


def estimate_terms(graph: Graph) -> int:
    """An upper bound on the number of polynomial terms the path lifting will create.

    Counts paths (not merged), per unit, with the same cuts as `_split_pieces`; cheap."""
    total = 0
    layout = piece_layout(graph.layers)  # every attention piece (residual bodies with one are cut off)
    composed = {p.layers[0].name for p in layout if p.composed}
    carried = {p.layers[0].name for p in layout if p.kind == "attention" and p.carries_values}

    def attention(layer: Layer, counts: list[int]) -> list[int]:
        """Terms of an attention piece; path counts of its output units (value sources carried
        into the next piece count their terms: head_dim per source, or more through M)."""
        nonlocal total
        paths = sum(counts)  # paths into the attention's input units: the entries of M, and more
        if layer.name in composed:  # (MᵀQ_hᵀK_hM, MᵀV_hᵀO_h): products of paths through M
            terms, values = composed_terms(layer, paths)
        else:  # the paths end here (their own piece); M is the identity
            terms, values = composed_terms(layer, layer.in_shape[2])
            terms += paths
        total += terms
        return [values if layer.name in carried else 1] * _size(layer.out_shape)

    def walk(layers: list[Layer], counts: list[int]) -> list[int]:
        """Path counts per unit after `layers`; terms of the pieces that end inside go to total."""
        nonlocal total
        previous = None
        for layer in layers:
            if layer.kind in ("linear", "conv", "softmax_head"):
                counts = _paths_after(layer, counts)
                if layer.kind == "softmax_head":  # the projection mixes all logits into each
                    counts = [sum(counts)] * len(counts)
            elif layer.kind == GATED:  # the projection's paths end; one source per product
                total += sum(_paths_after(glu_projection(layer), counts))
                counts = [1] * _size(layer.out_shape)
            elif layer.kind in PATH_ENDING:
                total += sum(counts)
                counts = [1 + ("bias" in layer.params)] * len(counts)
            elif layer.kind in WINDOWED:  # each window's paths, merged or not
                counts = [sum(counts[i] for i in window) for window in unit_windows(layer).tolist()]
            elif layer.kind == "residual" and previous in HOMOGENEOUS and not _has_attention(layer.inner):
                skipped = walk([layer.shortcut], counts) if layer.shortcut else counts
                counts = [a + b for a, b in zip(walk(layer.body, counts), skipped)]  # lifted inline
            elif layer.kind == "residual":
                entering = [1] * _size(layer.in_shape)
                body_counts = walk(layer.body, entering)  # before reading total
                total += sum(counts) + sum(body_counts) + (sum(walk([layer.shortcut], entering)) if layer.shortcut else 0)
                counts = [1] * _size(layer.out_shape)
            elif layer.kind == "attention":
                counts = attention(layer, counts)
            previous = layer.kind
        return counts

    final_counts = walk(graph.layers, [1] * _size(graph.input_shape))
    return total + sum(final_counts)


def _paths_after(layer: Layer, counts: list[int]) -> list[int]:
    """Paths into each output unit of a linear, conv or softmax_head layer from the paths into its
    input units: the sum over the unit's inputs, +1 for a bias. O(units + output positions ×
    kernel), not O(weights): a dense unit reads all the inputs of its token, a conv unit the
    same patch of input positions in every channel (Python ints: a deep chain's counts have
    thousands of digits)."""
    bias = 1 if "bias" in layer.params else 0
    if layer.kind != "conv":
        out_size, in_size = layer.params["weight"]
        tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
        return [sum(counts[t * in_size:(t + 1) * in_size]) + bias for t in range(tokens) for _ in range(out_size)]
    in_channels, positions = layer.in_shape[1], math.prod(layer.in_shape[2:])
    per_position = [sum(counts[c * positions + p] for c in range(in_channels)) for p in range(positions)]
    per_output = [sum(per_position[unit] for _, unit in patch) + bias for patch in _conv_patches(layer)]
    return per_output * layer.out_shape[1]


@contextmanager
def no_cyclic_gc():
    """Millions of small acyclic dicts and tuples are allocated here: pausing the cyclic garbage
    collector (which would rescan them again and again) halves the compile time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_phi(graph: Graph, max_terms: int = DEFAULT_MAX_TERMS) -> Phi:
    """Compile the graph to φ; refuse (with an estimate) when it would be hopelessly large."""
    terms = estimate_terms(graph)
    cost = (f"estimated {amount(Fraction(terms * MICROSECONDS_PER_TERM, 10**6))} s and "
            f"{amount(Fraction(terms * BYTES_PER_TERM, 2**30), 1)} GB")
    if terms > max_terms:
        raise ConslawError(f"this network needs about {amount(terms)} polynomial terms (limit {max_terms:,}); {cost}",
                           graph.file, graph.layers[0].line, graph.layers[0].col,
                           "raise the limit with --max-terms N if you really mean it, or try smaller widths")
    if terms * BYTES_PER_TERM > MAX_BYTES:  # whatever --max-terms says: refused before it is allocated
        raise ConslawError(f"this network's φ has about {amount(terms)} polynomial terms; {cost} "
                           f"(memory limit {MAX_BYTES // 2**30} GB)", graph.file, graph.layers[0].line,
                           graph.layers[0].col, "try smaller widths")
    variables = VariableTable(graph)
    pieces: list = []
    with no_cyclic_gc():
        _split_pieces(graph.layers, variables, pieces)
        return assemble(variables.names, [c for comps, _ in pieces for c in comps], [piece for _, piece in pieces],
                        dedupe=_shares_weights(graph))


def full_path_lifting(graph: Graph) -> Phi:
    """φ by path lifting through residual skips (edges of weight 1) instead of per-block pieces.

    Only for plain layers and residual blocks; used to check that per-block concatenation spans
    the same space (docs/method.md §5)."""
    variables = VariableTable(graph)
    components, piece = _plain_piece(graph.layers, variables, "x")
    return assemble(variables.names, components, [piece])


def assemble(names: list[str], components: list[Component], pieces: list[Piece], dedupe: bool = True) -> Phi:
    """Drop constants and zero components and, with `dedupe`, keep each distinct polynomial once
    (needed where weights are shared; distinct paths of unshared weights never coincide)."""
    seen: set = set()
    kept = []
    for comp in components:
        poly = comp.poly
        if () in poly or not all(poly.values()):
            poly = comp.poly = {m: c for m, c in poly.items() if c and m}
        if not poly:
            continue
        if dedupe:
            key = next(iter(poly.items())) if len(poly) == 1 else frozenset(poly.items())
            if key in seen:
                continue
            seen.add(key)
        kept.append(comp)
    return Phi(names, kept, pieces)


def _shares_weights(graph: Graph) -> bool:
    """Whether one weight sits on several edges: convolutions, layers applied to every token."""
    def walk(layers: list[Layer]) -> bool:
        return any(l.kind == "conv" or (l.params and l.in_shape[0] == "tokens") or walk(l.inner) for l in layers)

    return walk(graph.layers)

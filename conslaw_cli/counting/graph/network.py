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

Layers with weights are matrix products: `Dense` (linear layers, shared over tokens) and `Patches`
(convolutions: each output position reads a patch of input units, filter weights shared).
Pooling is `Pool`: an average has the fixed weights 1/k, a max pool's edges are gated like
homogeneous neurons (each edge (output unit, window entry) is a chain element with its own gain).
Values are jets (see ``arith``): θ carries the directions of the Lie brackets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from conslaw_cli.counting import gf
from conslaw_cli.graph import HOMOGENEOUS, POWER, WINDOWED, Layer, unit_windows
from . import arith


@dataclass
class Dense:
    """A linear map W (out × in, parameters in C order from `first`), applied to every token.

    `transposed`: the parameters are laid out as Wᵀ (in × out), e.g. Q_h in v ↦ Q_hᵀ(K_h v)."""

    first: int
    out: int
    inn: int
    tokens: int = 1
    bias: np.ndarray | None = None  # (out_units,) local parameter of each output unit's bias
    transposed: bool = False
    per_token: bool = False  # one matrix per token (attention heads' V_h), laid out token-major

    @property
    def in_units(self) -> int:
        return self.tokens * self.inn

    @property
    def out_units(self) -> int:
        return self.tokens * self.out

    @property
    def uses(self) -> int:
        """Weight uses (multiply–adds of one pass)."""
        return self.tokens * self.out * self.inn

    def matrix(self, theta: np.ndarray) -> np.ndarray:
        """W as jets (B or 1, J, out, in), or (B or 1, J, tokens, out, in) `per_token`."""
        if self.per_token:
            block = theta[:, :, self.first:self.first + self.tokens * self.out * self.inn]
            return block.reshape(theta.shape[0], theta.shape[1], self.tokens, self.out, self.inn)
        block = theta[:, :, self.first:self.first + self.out * self.inn]
        if self.transposed:
            return np.swapaxes(block.reshape(theta.shape[0], theta.shape[1], self.inn, self.out), 2, 3)
        return block.reshape(theta.shape[0], theta.shape[1], self.out, self.inn)

    def param(self, o, i):
        return self.first + (i * self.out + o if self.transposed else o * self.inn + i)

    def apply(self, theta: np.ndarray, h: np.ndarray) -> np.ndarray:
        """(B, J, in units) -> (B, J, out units), biases excluded."""
        if self.per_token:  # a row vector per token times its own matrix
            w = np.swapaxes(self.matrix(theta), 3, 4)
            return _units(arith.jet_product(_per_token(h, self.tokens)[..., None, :], w, arith.matmul, 1, 1, 1))
        w = np.swapaxes(self.matrix(theta), 2, 3)
        return _units(arith.jet_product(_per_token(h, self.tokens), w, arith.matmul, 1, 1, 1))

    def apply_transpose(self, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
        rows = _per_token(delta, self.tokens)[..., None, :] if self.per_token else _per_token(delta, self.tokens)
        return _units(arith.jet_product(rows, self.matrix(theta), arith.matmul, 1, 1, 1))

    def weight_gradient(self, delta: np.ndarray, h: np.ndarray) -> np.ndarray:
        """∂(δ · W h)/∂θ at this layer's weights (B, J, weights), θ[first:] on: Σ over tokens of
        δ[out] h[in] (per token when `per_token`). Only the layer's own block: adding a
        full-length gradient per layer would make a pass quadratic in the depth."""
        if self.per_token:
            outer = arith.jet_product(_per_token(delta, self.tokens)[..., :, None], _per_token(h, self.tokens)[..., None, :],
                                      arith.mul, 1, 1, 1)
            return _units(outer)
        outer = arith.jet_product(np.swapaxes(_per_token(delta, self.tokens), 2, 3), _per_token(h, self.tokens),
                                  arith.matmul, 1, 1, 1)
        return _units(np.swapaxes(outer, 2, 3) if self.transposed else outer)

    def references(self):
        """Reference edges for the certificate (see ``certificate.candidate_paths``): per output unit
        its first incoming edge, per input unit its first outgoing edge, per weight one edge."""
        t_out, o = np.divmod(np.arange(self.out_units), self.out)
        t_in, i = np.divmod(np.arange(self.in_units), self.inn)
        first_in = (t_out * self.inn, self.param(o, 0))
        first_out = (t_in * self.out, self.param(0, i))
        wo, wi = np.divmod(np.arange(self.out * self.inn), self.inn)
        return first_in, first_out, (self.param(wo, wi), wi, wo)


@dataclass
class Patches:
    """A convolution: output unit (c, q) = Σ_m W[c, m] · in[patch[q, m]], m over (in channel,
    kernel offsets); one weight is used at every position (weight sharing)."""

    first: int
    out_channels: int
    patch: np.ndarray  # (positions, in_channels · kernel) input unit of each patch entry
    in_units: int
    bias: np.ndarray | None = None

    @property
    def out_units(self) -> int:
        return self.out_channels * self.patch.shape[0]

    @property
    def uses(self) -> int:
        return self.out_channels * self.patch.size

    def matrix(self, theta: np.ndarray) -> np.ndarray:
        size = self.out_channels * self.patch.shape[1]
        return theta[:, :, self.first:self.first + size].reshape(theta.shape[0], theta.shape[1], self.out_channels, -1)

    def apply(self, theta: np.ndarray, h: np.ndarray) -> np.ndarray:
        patches = h[:, :, self.patch]  # (B, J, positions, C·K)
        out = arith.jet_product(patches, np.swapaxes(self.matrix(theta), 2, 3), arith.matmul, 1, 1, 1)
        return _units(np.swapaxes(out, 2, 3))  # channel-major units, like the graph's shapes

    def apply_transpose(self, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
        per_position = np.swapaxes(delta.reshape(delta.shape[0], delta.shape[1], self.out_channels, -1), 2, 3)
        spread = arith.jet_product(per_position, self.matrix(theta), arith.matmul, 1, 1, 1)
        return arith.scatter_add(_units(spread), self.patch.reshape(-1), self.in_units)

    def weight_gradient(self, delta: np.ndarray, h: np.ndarray) -> np.ndarray:
        """∂(δ · conv(h))/∂θ at this layer's filter weights (B, J, weights), θ[first:] on."""
        per_channel = delta.reshape(delta.shape[0], delta.shape[1], self.out_channels, -1)
        return _units(arith.jet_product(per_channel, h[:, :, self.patch], arith.matmul, 1, 1, 1))

    def references(self):
        positions, width = self.patch.shape
        c, q = np.divmod(np.arange(self.out_units), positions)
        m_first = np.argmin(self.patch, axis=1)  # per position, the entry reading the smallest unit
        first_in = (self.patch[q, m_first[q]], self.first + c * width + m_first[q])
        q_of, m_of = np.divmod(np.arange(positions * width), width)
        unit = self.patch.reshape(-1)
        order = np.lexsort((q_of, unit))
        keep = np.ones(len(order), dtype=bool)
        keep[1:] = unit[order][1:] != unit[order][:-1]
        chosen = order[keep]
        dst = np.full(self.in_units, -1, dtype=np.int64)
        par = np.full(self.in_units, -1, dtype=np.int64)
        dst[unit[chosen]], par[unit[chosen]] = q_of[chosen], self.first + m_of[chosen]  # channel 0
        wc, wm = np.divmod(np.arange(self.out_channels * width), width)
        return first_in, (dst, par), (self.first + wc * width + wm, self.patch[0, wm], wc * positions)


@dataclass
class Diagonal:
    """A normalization's scale γ ⊙ n: output unit (t, j) = γ_j · in(t, j), γ shared by the tokens."""

    first: int
    features: int
    tokens: int
    bias: np.ndarray | None = None

    @property
    def in_units(self) -> int:
        return self.tokens * self.features

    out_units = uses = in_units  # a diagonal keeps the units, one weight use per unit

    def scales(self, theta: np.ndarray) -> np.ndarray:
        """γ as jets (B or 1, J, 1, features), broadcast over the tokens."""
        return theta[:, :, None, self.first:self.first + self.features]

    def apply(self, theta: np.ndarray, h: np.ndarray) -> np.ndarray:
        return _units(arith.jet_product(_per_token(h, self.tokens), self.scales(theta), arith.mul, 1, 1, 1))

    apply_transpose = apply  # a diagonal map is its own transpose

    def references(self):
        """Reference edges for the certificate, as `Dense.references`: unit u reads unit u alone,
        through γ_(u mod features); weight j's edge is that of token 0."""
        units = np.arange(self.in_units)
        params = self.first + units % self.features
        features = np.arange(self.features)
        return (units, params), (units, params), (self.first + features, features, features)

    def weight_gradient(self, delta: np.ndarray, h: np.ndarray) -> np.ndarray:
        """∂(δ · γ ⊙ h)/∂γ: Σ over tokens of δ(t, j) h(t, j)."""
        products = arith.jet_product(_per_token(delta, self.tokens), _per_token(h, self.tokens), arith.mul, 1, 1, 1)
        return arith.sum_mod(products, axis=2)


def _per_token(x: np.ndarray, tokens: int) -> np.ndarray:
    return x.reshape(x.shape[0], x.shape[1], tokens, -1)


def _units(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], x.shape[1], -1)


def layer_connections(layer: Layer, offset_of: dict[str, int]):
    """A linear, conv, softmax_head or scale layer as `Dense`, `Patches` or `Diagonal`; parameters numbered through
    `offset_of` (tensor name -> first local index, entries in C order like the variable table)."""
    first = offset_of[f"{layer.name}.weight"]
    if layer.kind == "scale":
        dim = layer.in_shape[-1]
        tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
        connections = Diagonal(first, dim, tokens)
        if "bias" in layer.params:
            connections.bias = offset_of[f"{layer.name}.bias"] + np.arange(tokens * dim) % dim
        return connections
    if layer.kind == "conv":
        patch = _conv_patches(layer)
        connections = Patches(first, layer.out_shape[1], patch, math.prod(layer.in_shape[1:]))
    else:
        out_size, in_size = layer.params["weight"]
        tokens = layer.in_shape[1] if layer.in_shape[0] == "tokens" else 1
        connections = Dense(first, out_size, in_size, tokens)
    if "bias" in layer.params:
        channels = layer.params["bias"][0]
        units = np.arange(connections.out_units)
        per_unit = units // (connections.out_units // channels) if layer.kind == "conv" else units % channels
        connections.bias = offset_of[f"{layer.name}.bias"] + per_unit
    return connections


def _conv_patches(layer: Layer) -> np.ndarray:
    """The input unit read by each output position and (in channel, kernel offsets) entry, with
    the README's semantics: output position q reads input position q·stride + j − ⌊k/2⌋ mod size
    (circular) or q·stride + j (valid) at kernel offset j."""
    in_channels, *in_spatial = layer.in_shape[1:]
    out_spatial = layer.out_shape[2:]
    kernel, stride = layer.options["kernel"], layer.options["stride"]
    circular = layer.options["padding"] == "circular"
    grids = np.meshgrid(*map(np.arange, out_spatial), np.arange(in_channels), *map(np.arange, kernel), indexing="ij")
    qs, ci, js = grids[:len(out_spatial)], grids[len(out_spatial)], grids[len(out_spatial) + 1:]
    in_pos = 0
    for q, j, k, s, n_in in zip(qs, js, kernel, stride, in_spatial):
        source = (q * s + j - k // 2) % n_in if circular else q * s + j
        in_pos = in_pos * n_in + source
    unit = ci * math.prod(in_spatial) + in_pos
    return unit.reshape(math.prod(out_spatial), -1)


# --- the program of a piece --------------------------------------------------------------------

@dataclass
class Affine:
    edges: Dense | Patches


@dataclass
class Gains:
    """Homogeneous neurons: multiplication by their gains (`first` = index of the first gain);
    `activation` is the layer (relu, leaky_relu or abs) whose neurons they are."""

    units: int
    first: int
    activation: Layer | None = None


@dataclass
class Power:
    """Power neurons h ↦ g·hᵖ (`first` = index of the first gain), in whole-network programs only
    (the law check and the certificate; a power neuron ends the paths of φ's pieces): relu(h)ᵖ has
    gain 1 where h > 0 and 0 elsewhere, hᵖ gain 1 everywhere; the law check draws random gains,
    as for a ReLU."""

    units: int
    first: int
    p: int
    activation: Layer


def _jet_power(h: np.ndarray, p: int) -> np.ndarray:
    """hᵖ of jets (B, J, units), by repeated products."""
    out = h
    for _ in range(p - 1):
        out = arith.jet_product(out, h, arith.mul, 1, 1, 1)
    return out


@dataclass
class Pool:
    """A pooling layer: output unit u = Σ_m w_um · in[windows[u, m]]. An average has the fixed
    weights 1/k (mod p); a max pool's weights are the gains of its edges (`first`: the index of
    edge (0, 0)'s gain, edge (u, m) at first + u·k + m), 1 for the entry the data select."""

    windows: np.ndarray  # (out units, k) input units
    in_units: int
    first: int | None = None  # max pooling only

    @property
    def gated(self) -> bool:
        """A max pool (its edges have gains); an average or a reshaping has fixed weights."""
        return self.first is not None

    @property
    def units(self) -> int:
        """Gains of a max pool: one per edge."""
        return self.windows.size

    def weights(self, gains: np.ndarray, first_gain: int) -> np.ndarray:
        """The edge weights (B or 1, 1, out units, k)."""
        if not self.gated:
            return np.full((1, 1, 1, 1), pow(self.windows.shape[1], -1, gf.PRIME), dtype=np.uint64)
        start = first_gain + self.first
        return gains[:, start:start + self.windows.size].reshape(gains.shape[0], 1, *self.windows.shape)

    def apply(self, h: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return arith.sum_mod(arith.mul(h[:, :, self.windows], weights), axis=3)

    def apply_transpose(self, delta: np.ndarray, weights: np.ndarray) -> np.ndarray:
        entries = np.broadcast_to(delta[:, :, :, None], delta.shape + (self.windows.shape[1],))
        spread = arith.mul(entries, weights)
        return arith.scatter_add(_units(spread), self.windows.reshape(-1), self.in_units)


@dataclass
class Tile:
    """The same values for every token (attention values reach every token alike)."""

    tokens: int


@dataclass
class Skip:
    """A residual block lifted inline: x + body(x), the skip an edge of weight 1, or S x + body(x)
    with the ops of a projection shortcut S."""

    body: list
    shortcut: list = field(default_factory=list)


@dataclass
class SumZero:
    """The softmax head's projection of the logits on sum-zero vectors, times n (symmetric)."""

    units: int


@dataclass
class Program:
    """A path-lifting segment as operations on unit vectors, with its gains laid out as
    [source units | constant | homogeneous neurons and max-pool edges… | sink units]."""

    ops: list
    sources: int
    sinks: int
    num_params: int
    num_gains: int = 0
    has_constant: bool = False


def program_ops(ops: list):
    """Every op of a program, residual bodies and projection shortcuts included."""
    for op in ops:
        yield op
        yield from program_ops(getattr(op, "body", []))
        yield from program_ops(getattr(op, "shortcut", []))


def output_degree(program: "Program") -> int:
    """A bound on the degree of the program's sink values in (θ, gains): the sources are gains
    (degree 1), a weighted layer adds 1 (a bias is θ times the constant's gain, degree 2), a
    gain 1, a power neuron multiplies by p and adds its gain, and the sinks' gains add 1 (for
    Schwartz–Zippel bounds)."""
    def after(ops: list, degree: int) -> int:
        for op in ops:
            if isinstance(op, (Affine, Gains)) or (isinstance(op, Pool) and op.gated):
                degree += 1
            elif isinstance(op, Power):
                degree = op.p * degree + 1
            elif isinstance(op, Skip):
                degree = max(after(op.body, degree), after(op.shortcut, degree))
        return degree

    return after(program.ops, 1) + 1


def connections(program: "Program") -> int:
    """Weight uses of one pass: the cost of a field's evaluation."""
    return sum(op.edges.uses for op in program_ops(program.ops) if isinstance(op, Affine))


class Unsupported(Exception):
    """A piece the gated-network form does not cover (the expanded-φ engine takes it)."""


def attention_values_ops(layer: Layer, offset_of: dict[str, int]) -> tuple[list, int]:
    """Ops from the value sources (head h, input i) of an attention layer to its output units
    (token, j): (V_hᵀO_h)[i, j], the same for every token; and the number of sources."""
    heads, head_dim = layer.options["heads"], layer.options["head_dim"]
    tokens, dim = layer.in_shape[1], layer.in_shape[2]
    values = Dense(offset_of[f"{layer.name}.V"], head_dim, dim, tokens=heads, per_token=True)
    mix = Dense(offset_of[f"{layer.name}.O"], dim, heads * head_dim, transposed=True)
    return [Affine(values), Affine(mix), Tile(tokens)], heads * dim


def build_program(layers: list[Layer], offset_of: dict[str, int], num_params: int,
                  values_from: Layer | None = None) -> Program:
    """The gated-network program of a path-lifting segment (no smooth activation inside); with
    `values_from`, the paths start at that attention's value sources."""
    counter = {"gains": 0, "constant": False}

    def build(seq: list[Layer], units: int) -> tuple[list, int]:
        ops = []
        for layer in seq:
            if layer.kind in ("linear", "conv", "softmax_head", "scale"):
                edges = layer_connections(layer, offset_of)
                counter["constant"] |= edges.bias is not None
                ops.append(Affine(edges))
                units = edges.out_units
                if layer.kind == "softmax_head":
                    ops.append(SumZero(units))
            elif layer.kind in HOMOGENEOUS:
                ops.append(Gains(units, counter["gains"], layer))
                counter["gains"] += units
            elif layer.kind == POWER:
                ops.append(Power(units, counter["gains"], layer.options["p"], layer))
                counter["gains"] += units
            elif layer.kind in WINDOWED:
                pool = Pool(unit_windows(layer), units)
                if layer.kind == "max_pool":
                    pool.first = counter["gains"]
                    counter["gains"] += pool.units
                ops.append(pool)
                units = pool.windows.shape[0]
            elif layer.kind == "residual":
                body, out_units = build(layer.body, units)
                shortcut = build([layer.shortcut], units)[0] if layer.shortcut else []
                ops.append(Skip(body, shortcut))
                units = out_units
            elif layer.kind not in ("identity", "flatten"):
                raise Unsupported(layer.kind)
        return ops, units

    sources = math.prod(layers[0].in_shape[1:])
    prelude = []
    if values_from is not None:
        prelude, sources = attention_values_ops(values_from, offset_of)
    ops, sinks = build(layers, math.prod(layers[0].in_shape[1:]))
    program = Program(prelude + ops, sources, sinks, num_params, has_constant=counter["constant"])
    program.num_gains = sources + 1 + counter["gains"] + sinks
    return program


# --- evaluation on jets -------------------------------------------------------------------------
# shapes: θ (B, J, n) per-sample jet points; activations (B, J, units); gains (B, num_gains)

@dataclass
class _Tape:
    saved: list = field(default_factory=list)


def forward(program: Program, theta: np.ndarray, gains: np.ndarray, tape: _Tape) -> np.ndarray:
    """Sink values of the gated network (B, J, sinks); inputs are the source gains. θ may have a
    batch axis of 1 (one point for every sample: then dense layers are plain matrix products)."""
    batch, jets = gains.shape[0], theta.shape[1]
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
            out = e.apply(theta, h)
            if e.bias is not None:
                out = arith.add(out, arith.mul(theta[:, :, e.bias], constant[:, None, None]))
            h = out
        elif isinstance(op, Gains):
            g = gains[:, first_gain + op.first:first_gain + op.first + op.units]
            h = arith.mul(h, g[:, None, :])
        elif isinstance(op, Power):
            tape.saved.append(h)
            g = gains[:, first_gain + op.first:first_gain + op.first + op.units]
            h = arith.mul(_jet_power(h, op.p), g[:, None, :])
        elif isinstance(op, Skip):  # the tape holds the body's inputs, then the shortcut's
            body = _run(op.body, h, theta, gains, constant, first_gain, tape)
            h = arith.add(body, _run(op.shortcut, h, theta, gains, constant, first_gain, tape))
        elif isinstance(op, SumZero):
            h = _sum_zero(h, op.units)
        elif isinstance(op, Pool):
            h = op.apply(h, op.weights(gains, first_gain))
        elif isinstance(op, Tile):
            h = np.concatenate([h] * op.tokens, axis=2)
    return h


def _sum_zero(h: np.ndarray, n: int) -> np.ndarray:
    """z -> n z − (Σ z) 1."""
    total = arith.sum_mod(h, axis=2)[:, :, None]
    return arith.sub(arith.mul(h, np.uint64(n)), total)


def gradient(program: Program, theta: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """∇_θ (α·φ) at the jet points θ (B, J, n) for the rank-one α of each row of `gains`."""
    tape = _Tape()
    forward(program, theta, gains, tape)
    batch, jets = gains.shape[0], theta.shape[1]
    delta = np.zeros((batch, jets, program.sinks), dtype=np.uint64)
    delta[:, 0, :] = gains[:, program.num_gains - program.sinks:]
    grad = np.zeros((batch, jets, theta.shape[2]), dtype=np.uint64)
    constant = gains[:, program.sources]
    _back(program.ops, delta, theta, gains, constant, program.sources + 1, tape, grad)
    return grad


def _add_at(grad: np.ndarray, first: int, block: np.ndarray) -> None:
    """grad[..., first:first + len] += block (mod p), in place: one layer's share of a gradient."""
    window = grad[:, :, first:first + block.shape[2]]
    window[:] = arith.add(window, block)


def _back(ops, delta, theta, gains, constant, first_gain, tape, grad):
    for op in reversed(ops):
        if isinstance(op, Affine):
            e = op.edges
            h = tape.saved.pop()
            # ∂/∂θ[param]: δ[out] · h[in]; ∂/∂h[in]: θ[param] · δ[out]
            block = e.weight_gradient(delta, h)
            _add_at(grad, e.first, block)
            if e.bias is not None:
                low = int(e.bias.min())
                bias_grad = arith.mul(delta, constant[:, None, None])
                _add_at(grad, low, arith.scatter_add(bias_grad, e.bias - low, int(e.bias.max()) + 1 - low))
            delta = e.apply_transpose(theta, delta)
        elif isinstance(op, Gains):
            g = gains[:, first_gain + op.first:first_gain + op.first + op.units]
            delta = arith.mul(delta, g[:, None, :])
        elif isinstance(op, Power):  # ∂(g·hᵖ)/∂h = p·g·hᵖ⁻¹
            h = tape.saved.pop()
            g = gains[:, first_gain + op.first:first_gain + op.first + op.units]
            slope = arith.mul(_jet_power(h, op.p - 1), arith.mul(g, np.uint64(op.p))[:, None, :])
            delta = arith.jet_product(delta, slope, arith.mul, 1, 1, 1)
        elif isinstance(op, Skip):  # popped in reverse: the shortcut's inputs first
            skipped = _back(op.shortcut, delta, theta, gains, constant, first_gain, tape, grad)
            delta = arith.add(skipped, _back(op.body, delta, theta, gains, constant, first_gain, tape, grad))
        elif isinstance(op, SumZero):
            delta = _sum_zero(delta, op.units)
        elif isinstance(op, Pool):
            delta = op.apply_transpose(delta, op.weights(gains, first_gain))
        elif isinstance(op, Tile):
            delta = arith.sum_mod(delta.reshape(delta.shape[0], delta.shape[1], op.tokens, -1), axis=2)
    return delta

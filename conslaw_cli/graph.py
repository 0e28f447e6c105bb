"""Validated spec -> intermediate graph: typed layers with shapes and named parameter tensors.

Shapes: ``("vector", n)``, ``("signal", C, P)``, ``("image", C, H, W)``, ``("tokens", N, E)``.
Parameters are named ``LAYER.weight``, ``LAYER.bias`` (linear, conv, softmax_head) and
``LAYER.Q``, ``LAYER.K``, ``LAYER.V``, ``LAYER.O`` (attention); a scalar parameter is
``LAYER.weight[i,j]`` with PyTorch's index order (weight is out x in, conv weight is
out_channels x in_channels x kernel...).

Size limits, checked layer by layer before anything is allocated: at most MAX_PARAMETERS
parameters and at most MAX_VALUES values in any layer's output (the compiler's size estimate
and the engines allocate per value and per parameter).

Pooling (no parameters): ``avg_pool`` and ``max_pool`` over windows of ``kernel_size`` every
``stride`` (default: the kernel size) positions of each channel, without padding (PyTorch's
``AvgPool2d``/``MaxPool2d`` with their defaults: output size ⌊(size − k)/stride⌋ + 1);
``global_avg_pool`` the mean of each channel over its positions (a vector of C, as PyTorch's
``x.mean((2, 3))``), or of each feature over the tokens (a vector of dim). Reshaping:
``transpose`` swaps tokens and features (tokens N × dim -> dim × N, for the token mixing of an
MLP-Mixer); ``patches: {size: P}`` cuts an image C × H × W into (H/P)·(W/P) tokens of C·P·P
features, patch (i, j) row-major, feature (c, a, b) in C order (a ViT's patch embedding is
``patches`` then ``linear``, like PyTorch's Conv2d with kernel = stride = P). ``unit_windows``
gives every output unit's window of input units (one unit for a reshaping), the one definition
the compiler, the count engine and the JAX network read.

``dropout: {rate: r}`` is an ``identity`` layer (named ``dropout1``, …) with the option
``dropout: r``: the network whose gradient flow conslaw analyses is the network at evaluation
(PyTorch's ``model.eval()``); ``verify`` drops units in its training runs.

``relu: {power: p}`` (squared ReLU for p = 2) is the graph kind ``power`` with options ``p`` and
``rectified: true``; ``power: {p: p}`` (x ↦ xᵖ) the same with ``rectified: false``; p = 1 is
``relu`` or ``identity``. Both are positively homogeneous of degree p: σ(λx) = λᵖσ(x) for λ > 0.

Normalization: ``layer_norm`` maps the features h of a vector (or of each token) to
γ ⊙ (h − mean h)/std h + β, ``rms_norm`` to γ ⊙ h/rms h (PyTorch's ``LayerNorm(dim)`` and
``RMSNorm(dim)`` with eps = 0: conslaw analyses the exact norm, whose scale invariance is exact);
parameters ``LAYER.weight`` (γ) and ``LAYER.bias`` (β, layer_norm only), of shape (dim,), shared
by the tokens; ``affine: false`` drops both, ``bias: false`` drops β. ``affine_part`` gives the
diagonal map γ ⊙ n + β as a layer of kind ``scale``: φ's paths end at the normalization and
restart at its output, through that map.

Gated linear units: ``glu: {out: m, gate: σ}`` maps the features h of a vector (or of each token)
to a ⊙ σ(b), where (a, b) = W h + c are the two halves of one projection with 2m outputs
(PyTorch's ``F.glu(linear(h), dim=-1)``: rows 0…m−1 of ``LAYER.weight`` (2m × in) are the values
a, rows m…2m−1 the gates b); σ is sigmoid (GLU), silu (SwiGLU), gelu (GEGLU), relu (ReGLU) or
none (the bilinear unit a ⊙ b); ``bias: true`` adds ``LAYER.bias`` (2m,). ``glu_projection``
gives the projection as a linear layer: φ's paths end at its outputs, the inputs of the product,
and restart at the product's m outputs.

``leaky_relu`` with slope 0 is ``relu`` and with slope 1 is ``identity`` (a linear neuron, summed
over by the compiler); any other finite slope is positively homogeneous like relu.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import ConslawError
from .spec import ArchSpec, LayerSpec

Shape = tuple
HOMOGENEOUS = ("relu", "leaky_relu", "abs")
SMOOTH = ("tanh", "sigmoid", "gelu", "silu")
POWER = "power"  # relu(x)^p (`rectified`) or x^p: positively homogeneous of degree p
NORMS = ("layer_norm", "rms_norm")  # over the features of a vector or of each token
GATED = "glu"  # a gated linear unit: values ⊙ gate(gates) of one fused projection
PATH_ENDING = SMOOTH + (POWER,) + NORMS + (GATED,)  # layers that end the paths of φ (not positively 1-homogeneous)
POOLING = ("avg_pool", "max_pool", "global_avg_pool")
RESHAPING = ("transpose", "patches")  # fixed permutations of the units
WINDOWED = POOLING + RESHAPING  # each output unit reads a window of input units (`unit_windows`)
NAMED_KINDS = ("linear", "conv", "attention", "softmax_head", "residual", "dropout", GATED) + WINDOWED + NORMS
MAX_PARAMETERS = 100_000_000
MAX_VALUES = 100_000_000
SLOPE_KINDS = {0: "relu", 1: "identity"}  # leaky_relu slopes that are another activation


@dataclass
class Layer:
    """One layer of the graph, with its input and output shapes and parameter tensors."""

    kind: str
    name: str
    in_shape: Shape
    out_shape: Shape
    options: dict
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    body: list["Layer"] = field(default_factory=list)
    shortcut: "Layer | None" = None  # a residual block's projection on the skip (None: identity)
    line: int = 0
    col: int = 0

    @property
    def inner(self) -> list["Layer"]:
        """The layers inside a residual block: its body, then its shortcut if it has one."""
        return self.body + ([self.shortcut] if self.shortcut else [])

    @property
    def own_params(self) -> int:
        """Parameters of this layer itself (a residual block has none of its own)."""
        return sum(math.prod(shape) for shape in self.params.values())

    @property
    def num_params(self) -> int:
        return self.own_params + sum(l.num_params for l in self.inner)


def walk_layers(layers: list[Layer]):
    """Every layer of `layers` in file order, residual bodies (then their shortcuts) included."""
    for layer in layers:
        yield layer
        yield from walk_layers(layer.inner)


@dataclass
class Graph:
    """The network: its layers in order and the total number of parameters D."""

    name: str
    description: str
    file: str
    input_shape: Shape
    layers: list[Layer]

    @property
    def num_params(self) -> int:
        return sum(layer.num_params for layer in self.layers)

    def walk(self):
        """Every layer in file order, residual bodies (then their shortcuts) included, with its
        nesting depth."""
        def visit(layers: list[Layer], depth: int):
            for layer in layers:
                yield depth, layer
                yield from visit(layer.inner, depth + 1)

        return visit(self.layers, 0)

    def parameter_tensors(self) -> list[tuple[str, tuple[int, ...]]]:
        """All parameter tensors in layer order, as (full name, shape)."""
        return [(f"{layer.name}.{p}", shape) for _, layer in self.walk() for p, shape in layer.params.items()]


def shape_text(shape: Shape) -> str:
    """A shape as a reader expects it, e.g. 'vector 4', 'signal 2x8', 'tokens 3x4'."""
    return f"{shape[0]} {'x'.join(map(str, shape[1:]))}"


def unit_windows(layer: Layer) -> np.ndarray:
    """(output units, window) flat input units averaged or maximised into each output unit of a
    pooling layer, or the one unit a reshaping moves there; units in C order (channel-major, like
    the graph's shapes): output position q of channel c reads input positions q·stride + j, j over
    the kernel offsets, of channel c; a global pool reads every position of its channel (or every
    token of its feature)."""
    shape = layer.in_shape
    if layer.kind == "transpose":  # output token e, feature n reads input token n, feature e
        tokens, dim = shape[1:]
        return np.arange(tokens * dim).reshape(tokens, dim).T.reshape(-1, 1).copy()
    if layer.kind == "patches":
        channels, height, width = shape[1:]
        size = layer.options["size"]
        units = np.arange(channels * height * width).reshape(channels, height // size, size, width // size, size)
        return units.transpose(1, 3, 0, 2, 4).reshape(-1, 1).copy()  # (i, j) tokens of (c, a, b) features
    if layer.kind == "global_avg_pool":
        if shape[0] == "tokens":
            tokens, dim = shape[1:]
            return np.arange(tokens * dim).reshape(tokens, dim).T.copy()
        return np.arange(math.prod(shape[1:])).reshape(shape[1], -1)
    channels, spatial, out_spatial = shape[1], shape[2:], layer.out_shape[2:]
    kernel, stride = layer.options["kernel"], layer.options["stride"]
    positions = np.zeros((math.prod(out_spatial), math.prod(kernel)), dtype=np.int64)
    out_grid = np.meshgrid(*map(np.arange, out_spatial), indexing="ij")
    offsets = np.meshgrid(*map(np.arange, kernel), indexing="ij")
    for q, j, s, n in zip(out_grid, offsets, stride, spatial):
        positions = positions * n + (q.reshape(-1, 1) * s + j.reshape(1, -1))
    per_channel = math.prod(spatial)
    return (np.arange(channels)[:, None, None] * per_channel + positions[None]).reshape(-1, positions.shape[1])


def affine_part(norm: Layer) -> Layer:
    """The map n ↦ γ ⊙ n + β of a normalization layer, as a layer of kind ``scale`` with the
    norm's name and parameters (the diagonal through which φ's paths restart after the norm)."""
    return Layer("scale", norm.name, norm.out_shape, norm.out_shape, {}, dict(norm.params), line=norm.line, col=norm.col)


def glu_projection(glu: Layer) -> Layer:
    """The fused projection h ↦ W h + c of a gated linear unit (2m outputs: the values, then the
    gates) as a linear layer with the unit's name and parameters (module docstring)."""
    out = glu.params["weight"][0]
    shape = glu.in_shape[:-1] + (out,)
    return Layer("linear", glu.name, glu.in_shape, shape, {"out": out}, dict(glu.params), line=glu.line, col=glu.col)


def _power_kind(kind: str, opts: dict) -> tuple[str, dict]:
    """relu: {power: p} and power: {p: p} as the graph kind (module docstring)."""
    rectified = kind == "relu"
    p = opts["power"] if rectified else opts["p"]
    if p == 1:
        return ("relu" if rectified else "identity"), {}
    return POWER, {"p": p, "rectified": rectified}


def _stride_between(size: int, out: int) -> int:
    """The smallest stride s with ⌈size / s⌉ = out, or 0 when there is none (s = ⌈size / out⌉ is
    the only candidate: ⌈size / s⌉ ≤ out needs s ≥ size / out)."""
    stride = -(-size // out)
    return stride if -(-size // stride) == out else 0


def _pair(value) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


class _Builder:
    def __init__(self, spec: ArchSpec):
        self.spec = spec
        self.counters: dict[str, int] = {}
        self.names: set[str] = set()
        self.default_names: dict[str, LayerSpec] = {}  # names given by kind + number, to explain clashes
        self.parameters = 0

    def error(self, layer: LayerSpec, message: str, hint: str | None = None) -> ConslawError:
        return ConslawError(message, self.spec.file, layer.pos.line, layer.pos.col, hint)

    def name_for(self, layer: LayerSpec) -> str:
        if layer.kind not in NAMED_KINDS:
            return layer.kind
        name = layer.name
        if name is None:
            while True:
                self.counters[layer.kind] = self.counters.get(layer.kind, 0) + 1
                name = f"{layer.kind}{self.counters[layer.kind]}"
                if name not in self.names:
                    break
            self.default_names[name] = layer
        elif name in self.default_names:
            first = self.default_names[name]
            raise self.error(layer, f"duplicate layer name '{name}': it is the default name of the unnamed "
                             f"{first.kind} at line {first.pos.line} (unnamed layers are called kind + number)",
                             "name that layer too, or choose another name here")
        elif name in self.names:
            raise self.error(layer, f"duplicate layer name '{name}'", "every named layer needs its own name")
        self.names.add(name)
        return name

    def check_size(self, layer: LayerSpec, node: "Layer") -> None:
        """Refuse a network over MAX_PARAMETERS parameters or MAX_VALUES values per layer output
        (O(1) per layer: shapes only, nothing allocated)."""
        self.parameters += node.own_params
        values = math.prod(node.out_shape[1:])
        if self.parameters > MAX_PARAMETERS:
            raise self.error(layer, f"this network is too large: {self.parameters:,} parameters up to here "
                             f"(limit {MAX_PARAMETERS:,})", "exact counts need far smaller networks: "
                             "try smaller widths (the count of a narrow network often predicts the wide one)")
        if values > MAX_VALUES:
            raise self.error(layer, f"this network is too large: this layer outputs {values:,} values "
                             f"(limit {MAX_VALUES:,})", "try smaller sizes")

    def build(self, layers: list[LayerSpec], shape: Shape, top_level: bool) -> tuple[list[Layer], Shape]:
        built = []
        for index, layer in enumerate(layers):
            if layer.kind == "softmax_head" and not (top_level and index == len(layers) - 1):
                raise self.error(layer, "softmax_head must be the last layer of the network",
                                 "it is a linear classifier followed by softmax and the loss")
            node = self.layer(layer, shape)
            built.append(node)
            shape = node.out_shape
        return built, shape

    def layer(self, layer: LayerSpec, shape: Shape) -> Layer:
        name = self.name_for(layer)
        kind, opts = layer.kind, layer.options
        if kind == "leaky_relu":
            kind = SLOPE_KINDS.get(opts["slope"], kind)
        if layer.kind in ("relu", POWER):
            kind, opts = _power_kind(kind, opts)
        if kind == "dropout":  # the identity of the analysed network; its rate is used in training only
            kind, opts = "identity", {"dropout": opts["rate"], "name": opts["name"]}
        node = Layer(kind, name, shape, shape, dict(opts), line=layer.pos.line, col=layer.pos.col)
        if kind in ("linear", "softmax_head"):
            out = opts["out"] if kind == "linear" else opts["classes"]
            if shape[0] == "vector":
                node.out_shape, fan_in = ("vector", out), shape[1]
            elif shape[0] == "tokens" and kind == "linear":
                node.out_shape, fan_in = ("tokens", shape[1], out), shape[2]
            else:
                wants = "a vector" if kind == "softmax_head" else "a vector or tokens"
                raise self.error(layer, f"{kind} needs {wants} input, got {shape_text(shape)}",
                                 "add '- flatten' before it")
            node.params["weight"] = (out, fan_in)
            if opts.get("bias"):
                node.params["bias"] = (out,)
        elif kind == "conv":
            self.conv(layer, node, shape)
        elif kind == "attention":
            if shape[0] != "tokens":
                raise self.error(layer, f"attention needs a token input, got {shape_text(shape)}",
                                 "declare 'input: {tokens: N, dim: E}'")
            rows = opts["heads"] * opts["head_dim"]
            node.params = {p: (rows, shape[2]) for p in ("Q", "K", "V", "O")}
        elif kind in POOLING:
            self.pool(layer, node, shape)
        elif kind in RESHAPING:
            self.reshape(layer, node, shape)
        elif kind in NORMS:
            self.norm(layer, node, shape)
        elif kind == GATED:
            self.gated(layer, node, shape)
        elif kind == "flatten":
            node.out_shape = ("vector", math.prod(shape[1:]))
        elif kind == "residual":
            node.body, out = self.build(layer.body, shape, top_level=False)
            if opts["shortcut"] != "identity":
                node.out_shape = out
                node.shortcut = self.shortcut(layer, node)
            elif out != shape:
                raise self.error(layer, f"residual body maps {shape_text(shape)} to {shape_text(out)}; "
                                 "x + body(x) needs the same shape", "make the last layer of the body "
                                 "restore the input size (circular padding keeps a conv's size), or project "
                                 "the skip with 'shortcut: conv' (or linear)")
        self.check_size(layer, node)
        return node

    def shortcut(self, layer: LayerSpec, block: Layer) -> Layer:
        """The projection S of a residual block x ↦ S x + body(x): a 1×1 conv (stride chosen to give the
        body's output size) or a linear map, without bias, named BLOCK_shortcut."""
        kind, shape, out = layer.options["shortcut"], block.in_shape, block.out_shape
        name = f"{block.name}_shortcut"
        if name in self.names:
            raise self.error(layer, f"duplicate layer name '{name}': it is the name of this block's shortcut",
                             "rename the other layer")
        self.names.add(name)
        skip = Layer(kind, name, shape, out, {"bias": False}, line=layer.pos.line, col=layer.pos.col)
        if kind == "conv":
            if shape[0] not in ("signal", "image") or out[0] != shape[0]:
                raise self.error(layer, f"a conv shortcut maps channels to channels, but the block maps "
                                 f"{shape_text(shape)} to {shape_text(out)}", "use 'shortcut: linear' for vectors")
            stride = tuple(_stride_between(n, m) for n, m in zip(shape[2:], out[2:]))
            if 0 in stride:
                raise self.error(layer, f"no stride of a 1×1 conv maps {shape_text(shape)} to {shape_text(out)}",
                                 "give the body an output size of ⌈size / stride⌉")
            kernel = (1,) * len(stride)
            skip.options.update(out_channels=out[1], kernel=kernel, stride=stride, padding="valid")
            skip.params["weight"] = (out[1], shape[1], *kernel)
        else:
            same_tokens = shape[0] == out[0] == "tokens" and shape[1] == out[1]
            if not (shape[0] == out[0] == "vector" or same_tokens):
                raise self.error(layer, f"a linear shortcut maps a vector to a vector (or each token alike), but "
                                 f"the block maps {shape_text(shape)} to {shape_text(out)}",
                                 "use 'shortcut: conv' for signals and images")
            skip.options["out"] = out[-1]
            skip.params["weight"] = (out[-1], shape[-1])
        self.check_size(layer, skip)
        return skip

    def pool(self, layer: LayerSpec, node: Layer, shape: Shape) -> None:
        """Output shape of a pooling layer (see the module docstring)."""
        if node.kind == "global_avg_pool":
            if shape[0] == "vector":
                raise self.error(layer, "global_avg_pool averages the positions of a signal or an image, or the "
                                 "tokens, but got a vector", "put it right after the last conv (or attention)")
            node.out_shape = ("vector", shape[2] if shape[0] == "tokens" else shape[1])
            return
        if shape[0] not in ("signal", "image"):
            raise self.error(layer, f"{node.kind} needs a signal or image input (channels), got {shape_text(shape)}",
                             "pooling slides over positions; on tokens use global_avg_pool")
        kernel, stride = self.window(layer, shape)
        out_spatial = []
        for size, k, s in zip(shape[2:], kernel, stride):
            if k > size:
                raise self.error(layer, f"pooling window {k} is larger than the input size {size}",
                                 "use a smaller kernel_size")
            out_spatial.append((size - k) // s + 1)
        node.options.update(kernel=kernel, stride=stride)
        node.out_shape = (shape[0], shape[1], *out_spatial)

    def reshape(self, layer: LayerSpec, node: Layer, shape: Shape) -> None:
        """Output shape of transpose (tokens) and patches (images), see the module docstring."""
        if node.kind == "transpose":
            if shape[0] != "tokens":
                raise self.error(layer, f"transpose swaps tokens and features, but got {shape_text(shape)}",
                                 "declare 'input: {tokens: N, dim: E}', or cut an image with 'patches'")
            node.out_shape = ("tokens", shape[2], shape[1])
            return
        size = layer.options["size"]
        if shape[0] != "image":
            raise self.error(layer, f"patches cuts an image into tokens, but got {shape_text(shape)}",
                             "declare 'input: {channels: C, height: H, width: W}'")
        if shape[2] % size or shape[3] % size:
            raise self.error(layer, f"patches of size {size} do not tile a {shape[2]}x{shape[3]} image",
                             "choose a size that divides the height and the width")
        node.out_shape = ("tokens", (shape[2] // size) * (shape[3] // size), shape[1] * size * size)

    def norm(self, layer: LayerSpec, node: Layer, shape: Shape) -> None:
        """Parameters of a normalization over the last axis (see the module docstring)."""
        if shape[0] not in ("vector", "tokens"):
            raise self.error(layer, f"{node.kind} normalizes the features of a vector or of each token, got "
                             f"{shape_text(shape)}", "for the channels of signals and images, batch_norm and "
                             "group_norm are not supported yet; flatten first to normalize all values together")
        dim = shape[-1]
        if node.kind == "layer_norm" and dim == 1:
            raise self.error(layer, "a layer_norm of one feature outputs 0 (its mean is itself)",
                             "normalize a wider layer, or use rms_norm")
        if node.options["affine"]:
            node.params["weight"] = (dim,)
            if node.options.get("bias"):
                node.params["bias"] = (dim,)

    def gated(self, layer: LayerSpec, node: Layer, shape: Shape) -> None:
        """Parameters and output of a gated linear unit (see the module docstring)."""
        if shape[0] not in ("vector", "tokens"):
            raise self.error(layer, f"glu acts on the features of a vector or of each token, got {shape_text(shape)}",
                             "add '- flatten' before it, or cut an image into tokens with 'patches'")
        out = node.options["out"]
        node.out_shape = shape[:-1] + (out,)
        node.params["weight"] = (2 * out, shape[-1])
        if node.options["bias"]:
            node.params["bias"] = (2 * out,)

    def window(self, layer: LayerSpec, shape: Shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(kernel, stride) of a conv or pooling layer, one entry per spatial dimension: integers
        for signals, an integer or a pair for images; a pooling stride defaults to its kernel."""
        opts = layer.options
        stride_option = opts["stride"] if opts.get("stride") is not None else opts["kernel_size"]
        if len(shape) == 3:
            if isinstance(opts["kernel_size"], tuple) or isinstance(stride_option, tuple):
                raise self.error(layer, f"a 1-D {layer.kind} takes an integer kernel_size and stride",
                                 "pairs are for images: input {channels, height, width}")
            return (opts["kernel_size"],), (stride_option,)
        return _pair(opts["kernel_size"]), _pair(stride_option)

    def conv(self, layer: LayerSpec, node: Layer, shape: Shape) -> None:
        opts = layer.options
        if shape[0] not in ("signal", "image"):
            raise self.error(layer, f"conv needs a signal or image input (channels), got {shape_text(shape)}",
                             "declare 'input: {channels: C, length: P}' or '{channels: C, height: H, width: W}'")
        kernel, stride = self.window(layer, shape)
        out_spatial = []
        for size, k, s in zip(shape[2:], kernel, stride):
            if opts["padding"] == "circular":
                out_spatial.append(-(-size // s))
            elif k > size:
                raise self.error(layer, f"kernel size {k} is larger than the input size {size} with valid padding",
                                 "use 'padding: circular' or a smaller kernel")
            else:
                out_spatial.append((size - k) // s + 1)
        node.options.update(kernel=kernel, stride=stride)
        node.out_shape = (shape[0], opts["out_channels"], *out_spatial)
        node.params["weight"] = (opts["out_channels"], shape[1], *kernel)
        if opts["bias"]:
            node.params["bias"] = (opts["out_channels"],)


def build_graph(spec: ArchSpec) -> Graph:
    """Check shapes and names and build the layer graph (errors carry the layer's position)."""
    builder = _Builder(spec)
    sizes = spec.input.sizes
    shape = {
        "vector": lambda: ("vector", sizes["features"]),
        "signal": lambda: ("signal", sizes["channels"], sizes["length"]),
        "image": lambda: ("image", sizes["channels"], sizes["height"], sizes["width"]),
        "tokens": lambda: ("tokens", sizes["tokens"], sizes["dim"]),
    }[spec.input.kind]()
    if math.prod(shape[1:]) > MAX_VALUES:
        raise ConslawError(f"this network is too large: the input has {math.prod(shape[1:]):,} values "
                           f"(limit {MAX_VALUES:,})", spec.file, spec.input.pos.line, spec.input.pos.col,
                           "try smaller sizes")
    layers, _ = builder.build(spec.layers, shape, top_level=True)
    return Graph(spec.name, spec.description, spec.file, shape, layers)

"""The layer graph as a differentiable function g(θ, x) in JAX, float64.

θ is one flat vector whose entries follow `compiler.VariableTable(graph).names`, the order in
which laws name variables, so a law {monomial: coefficient} evaluates directly on θ. The forward
pass follows the YAML semantics of the README:

* linear: `W x + b` on a vector, applied to every token with shared weights on tokens;
* conv: output position q reads input position `q·stride + j` (valid) or
  `(q·stride + j − ⌊k/2⌋) mod size` (circular) for kernel offset j, per spatial dimension,
  exactly as `compiler._conv_connections`;
* attention: `Σ_h softmax(X Q_hᵀ K_h Xᵀ) X V_hᵀ O_h`, softmax over each row, head h the rows
  h·head_dim … (h+1)·head_dim − 1 (Marcotte, Gribonval, Peyré 2025, eq. 19); `causal: true`: token
  t attends to tokens s ≤ t only;
* softmax head: logits `W x`; the loss is cross-entropy;
* pooling and reshaping: the mean or the max of each window of `graph.unit_windows` (the windows
  the compiler and the count engine read; a reshaping's windows have one unit);
* residual: `x + body(x)`; flatten: C order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from conslaw_cli.phi.compiler import VariableTable
from conslaw_cli.graph import GATED, HOMOGENEOUS, NORMS, POWER, WINDOWED, Graph, Layer, unit_windows

jax.config.update("jax_enable_x64", True)

Forward = Callable[[dict, jnp.ndarray], jnp.ndarray]  # (tensors by name, one example) -> output

ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "abs": jnp.abs,
    "identity": lambda x: x,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "silu": jax.nn.silu,
}


def conv_gather_indices(layer: Layer) -> np.ndarray:
    """For each output position (C order) and kernel offset (C order): the flat input position
    it reads, with the padding and stride rules of `compiler._conv_connections`."""
    in_spatial, out_spatial = layer.in_shape[2:], layer.out_shape[2:]
    kernel, stride = layer.options["kernel"], layer.options["stride"]
    circular = layer.options["padding"] == "circular"
    rows = []
    for q in itertools.product(*map(range, out_spatial)):
        row = []
        for offsets in itertools.product(*map(range, kernel)):
            source = [(qd * sd + jd - kd // 2) % nd if circular else qd * sd + jd
                      for qd, jd, kd, sd, nd in zip(q, offsets, kernel, stride, in_spatial)]
            row.append(int(np.ravel_multi_index(source, in_spatial)))
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def _linear(layer: Layer) -> Forward:
    weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"

    def forward(params, x):
        y = x @ params[weight].T  # a vector, or tokens (N, in) -> (N, out)
        return y + params[bias] if bias in params else y

    return forward


def _conv(layer: Layer) -> Forward:
    weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"
    gather = conv_gather_indices(layer)
    out_shape = layer.out_shape[1:]

    def forward(params, x):
        channels = x.reshape(x.shape[0], -1)  # (C_in, input positions)
        patches = channels[:, gather]  # (C_in, output positions, kernel offsets)
        w = params[weight].reshape(params[weight].shape[0], params[weight].shape[1], -1)
        y = jnp.einsum("cqk,ock->oq", patches, w)
        if bias in params:
            y = y + params[bias][:, None]
        return y.reshape(out_shape)

    return forward


def _attention(layer: Layer) -> Forward:
    heads, head_dim = layer.options["heads"], layer.options["head_dim"]
    q, k, v, o = (f"{layer.name}.{t}" for t in "QKVO")
    tokens = layer.in_shape[1]
    mask = np.tril(np.ones((tokens, tokens))) if layer.options.get("causal") else None

    def forward(params, x):
        out = jnp.zeros_like(x)
        for h in range(heads):
            rows = slice(h * head_dim, (h + 1) * head_dim)
            scores = (x @ params[q][rows].T) @ (params[k][rows] @ x.T)
            out = out + _softmax_rows(scores, mask) @ (x @ params[v][rows].T) @ params[o][rows]
        return out

    return forward


def _softmax_rows(scores: jnp.ndarray, mask: np.ndarray | None) -> jnp.ndarray:
    """Softmax over each row; with a causal `mask` (1 where token t may attend to s ≤ t) the
    masked entries get weight exactly 0 (a product with the 0/1 mask rather than a −∞ score, so
    ball arithmetic encloses it like the rest). The shift by the row's maximum changes nothing but
    the rounding; like jax.nn.softmax it is kept out of the derivatives, whose comparisons of a
    maximum with itself ball arithmetic could not decide."""
    if mask is None:
        return jax.nn.softmax(scores, axis=-1)
    shift = jax.lax.stop_gradient(jnp.max(scores, axis=-1, keepdims=True))  # as jax.nn.softmax: no max in the derivatives
    weights = jnp.exp(scores - shift) * mask
    return weights / jnp.sum(weights, axis=-1, keepdims=True)


def _pool(layer: Layer) -> Forward:
    windows = jnp.asarray(unit_windows(layer))
    reduce = jnp.max if layer.kind == "max_pool" else jnp.mean
    out_shape = layer.out_shape[1:]
    return lambda params, x: reduce(x.reshape(-1)[windows], axis=1).reshape(out_shape)


def _norm(layer: Layer) -> Forward:
    """layer_norm and rms_norm over the last axis, eps = 0 (graph's docstring), then γ ⊙ n + β."""
    weight, bias = f"{layer.name}.weight", f"{layer.name}.bias"
    centred = layer.kind == "layer_norm"

    def forward(params, x):
        if centred:
            x = x - jnp.mean(x, axis=-1, keepdims=True)
        n = x / jnp.sqrt(jnp.mean(x * x, axis=-1, keepdims=True))
        if weight in params:
            n = n * params[weight]
        return n + params[bias] if bias in params else n

    return forward


def _glu(layer: Layer, observe=None) -> Forward:
    """a ⊙ σ(b), (a, b) the halves of W h + c (graph's docstring; PyTorch's F.glu for sigmoid); a
    ReLU gate's inputs b are shown to `observe`, like a ReLU's."""
    project, half = _linear(layer), layer.out_shape[-1]
    gate = ACTIVATIONS.get(layer.options["gate"], ACTIVATIONS["identity"])  # none: the bilinear unit
    switching = observe is not None and layer.options["gate"] == "relu"

    def forward(params, x):
        y = project(params, x)
        if switching:
            observe(y[..., half:])
        return y[..., :half] * gate(y[..., half:])

    return forward


def _residual(layer: Layer, observe=None) -> Forward:
    body = _sequence(layer.body, observe)
    skip = _layer(layer.shortcut, observe) if layer.shortcut else (lambda params, x: x)
    return lambda params, x: skip(params, x) + body(params, x)


def _layer(layer: Layer, observe=None) -> Forward:
    """One layer's forward; `observe(x)` (when given) is shown the input of every ReLU-like
    activation (relu, leaky_relu, abs, relu(x)ᵖ), where a neuron's gain is decided."""
    switching = layer.kind in HOMOGENEOUS or (layer.kind == POWER and layer.options["rectified"])
    if observe is not None and switching:
        plain = _layer(layer)
        return lambda params, x: (observe(x), plain(params, x))[1]
    if layer.kind in ("linear", "softmax_head"):
        return _linear(layer)
    if layer.kind == "conv":
        return _conv(layer)
    if layer.kind == "attention":
        return _attention(layer)
    if layer.kind == "residual":
        return _residual(layer, observe)
    if layer.kind in WINDOWED:
        return _pool(layer)
    if layer.kind in NORMS:
        return _norm(layer)
    if layer.kind == GATED:
        return _glu(layer, observe)
    if layer.kind == "flatten":
        return lambda params, x: x.reshape(-1)
    if layer.kind == "identity" and "dropout" in layer.options:
        mask = f"{layer.name}.mask"  # given by `Network.loss` in training runs only
        return lambda params, x: x * params[mask] if mask in params else x
    if layer.kind == POWER:
        p, rectified = layer.options["p"], layer.options["rectified"]
        return lambda params, x: (jax.nn.relu(x) if rectified else x) ** p
    if layer.kind == "leaky_relu":
        slope = layer.options.get("slope", 0.01)
        return lambda params, x: jnp.where(x >= 0, x, slope * x)
    activation = ACTIVATIONS[layer.kind]
    return lambda params, x: activation(x)


def _sequence(layers: list[Layer], observe=None) -> Forward:
    steps = [_layer(layer, observe) for layer in layers]

    def forward(params, x):
        for step in steps:
            x = step(params, x)
        return x

    return forward


@dataclass
class Network:
    """g(θ, x) for one architecture, θ flat in the laws' variable order."""

    graph: Graph
    names: list[str]
    tensors: dict[str, tuple[int, tuple[int, ...]]]  # tensor name -> (offset in θ, shape)
    forward: Forward

    @property
    def num_params(self) -> int:
        return len(self.names)

    @property
    def classifier(self) -> bool:
        """Ends with a softmax head: g gives logits, trained with cross-entropy."""
        return self.graph.layers[-1].kind == "softmax_head"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.graph.input_shape[1:])

    def unflatten(self, theta: jnp.ndarray) -> dict:
        """θ -> {tensor name: array}, C order (the order of `VariableTable.index`)."""
        return {name: theta[offset:offset + math.prod(shape)].reshape(shape)
                for name, (offset, shape) in self.tensors.items()}

    def apply(self, theta: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
        """g(θ, x) for one example x of the input shape (logits for a classifier)."""
        return self.forward(self.unflatten(theta), x)

    def batch(self, theta: jnp.ndarray, xs: jnp.ndarray) -> jnp.ndarray:
        """g(θ, x) for a batch of examples (first axis)."""
        return jax.vmap(lambda x: self.apply(theta, x))(xs)

    def constant_neurons(self, theta: jnp.ndarray, xs: jnp.ndarray) -> int:
        """ReLU-like neurons whose pre-activation keeps one sign on every example of `xs`: at this
        θ they never switch on these data, and each such neuron adds laws locally (a point that is
        not generic for a ReLU network)."""
        def pre_activations(x):
            seen = []
            _sequence(self.graph.layers, seen.append)(self.unflatten(theta), x)
            return seen

        values = jax.vmap(pre_activations)(xs)
        return sum(int(jnp.sum(jnp.all(v > 0, axis=0) | jnp.all(v < 0, axis=0))) for v in values)

    def predict(self, theta: jnp.ndarray, xs: jnp.ndarray) -> jnp.ndarray:
        """What the network computes for a user: class probabilities for a classifier (the
        softmax makes logits that differ by a constant equivalent), else g itself."""
        out = self.batch(theta, xs)
        return jax.nn.softmax(out, axis=-1) if self.classifier else out

    @property
    def dropouts(self) -> list[Layer]:
        """The dropout layers (identity layers with a `dropout` rate)."""
        return [l for _, l in self.graph.walk() if l.kind == "identity" and "dropout" in l.options]

    def dropout_masks(self, key: jax.Array, batch: int) -> dict:
        """A fresh mask per dropout layer and example: each unit kept with probability 1 − rate
        and then scaled by 1/(1 − rate) (inverted dropout, as PyTorch's `nn.Dropout`)."""
        masks = {}
        for k, layer in enumerate(self.dropouts):
            keep = 1.0 - layer.options["dropout"]
            kept = jax.random.bernoulli(jax.random.fold_in(key, k), keep, (batch, *layer.out_shape[1:]))
            masks[f"{layer.name}.mask"] = kept / keep
        return masks

    def loss(self, theta: jnp.ndarray, xs: jnp.ndarray, targets: jnp.ndarray, key: jax.Array | None = None) -> jnp.ndarray:
        """Mean cross-entropy (integer labels) for a classifier, else half the squared error
        averaged over examples and output entries (PyTorch's MSELoss convention). With `key`,
        the dropout layers drop units (a training step); without, they are the identity."""
        if key is not None and self.dropouts:
            params = self.unflatten(theta)
            out = jax.vmap(lambda x, masks: self.forward(params | masks, x))(xs, self.dropout_masks(key, len(xs)))
        else:
            out = self.batch(theta, xs)
        if self.classifier:
            log_probs = jax.nn.log_softmax(out, axis=-1)
            return -jnp.mean(jnp.take_along_axis(log_probs, targets[:, None], axis=-1))
        return 0.5 * jnp.mean((out - targets) ** 2)

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """A random θ: each tensor Gaussian with standard deviation 1/√fan-in (biases 1/2).
        (numpy, not jax.random: no compilation per tensor shape.)"""
        parts = [rng.standard_normal(math.prod(shape)) * (0.5 if len(shape) == 1 else 1 / math.sqrt(math.prod(shape[1:])))
                 for _, shape in self.tensors.values()]
        return np.concatenate(parts) if parts else np.zeros(0)


def build_network(graph: Graph) -> Network:
    """The differentiable network of a layer graph (see the module docstring for the semantics)."""
    table = VariableTable(graph)
    return Network(graph, table.names, dict(table.offsets), _sequence(graph.layers))

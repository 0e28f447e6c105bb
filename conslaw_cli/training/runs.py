"""Training runs of a network with optax, recording polynomials of θ along the way.

Optimizers: `gd` (full-batch gradient descent, the Euler scheme of gradient flow), `sgd`
(minibatches), `momentum` (heavy ball, 0.9), `adam`, `sign` (θ ← θ − τ sign ∇L, the discrete sign
flow). All but `sgd` use the full batch. Weight decay λ adds λθ to the gradient
(`θ_{k+1} = θ_k − τ(∇L + λθ_k)` for gd/sgd: the Euler scheme of θ' + λθ = −∇L).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .model import Network
from .polynomials import PolynomialSet

OPTIMIZERS = ("gd", "sgd", "momentum", "adam", "sign")
DATASET_SIZE = 128  # examples of the random data set
DIGITS_CLASSES = 10


def _sign_descent(learning_rate):
    return optax.chain(optax.scale_by_sign(), optax.scale_by_learning_rate(learning_rate))


_FACTORIES = {
    "gd": optax.sgd,
    "sgd": optax.sgd,
    "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
    "adam": optax.adam,
    "sign": _sign_descent,
}


def make_optimizer(name: str, learning_rate, weight_decay: float) -> optax.GradientTransformation:
    """The optax transformation; the learning rate may be a traced value (vmapped over τ)."""
    optimizer = optax.inject_hyperparams(_FACTORIES[name])(learning_rate=learning_rate)
    if weight_decay:
        return optax.chain(optax.add_decayed_weights(weight_decay), optimizer)
    return optimizer


@dataclass
class Dataset:
    inputs: jnp.ndarray
    targets: jnp.ndarray  # regression targets, or integer labels for a classifier


def random_dataset(net: Network, rng: np.random.Generator) -> Dataset:
    """Gaussian inputs; targets from a teacher, the same architecture at another random θ
    (its most likely class for a classifier)."""
    inputs = rng.standard_normal((DATASET_SIZE,) + net.input_shape)
    outputs = jax.jit(net.batch)(net.init(rng), inputs)
    return Dataset(jnp.asarray(inputs), jnp.argmax(outputs, axis=-1) if net.classifier else outputs)


def digits_dataset(net: Network) -> tuple[Dataset | None, str]:
    """scikit-learn's bundled 8×8 digits (1797 images, no download), scaled to [0, 1]; returns
    (None, reason) when the network cannot take them."""
    from sklearn.datasets import load_digits

    if int(np.prod(net.input_shape)) != 64:
        return None, f"digits are 8×8 = 64 values; this network's input has {int(np.prod(net.input_shape))}"
    out_shape = net.graph.layers[-1].out_shape if net.graph.layers else net.graph.input_shape
    if net.classifier and out_shape[1] != DIGITS_CLASSES or not net.classifier and out_shape != ("vector", 10):
        return None, "digits have 10 classes: end with 'softmax_head: {classes: 10}' or 'linear: {out: 10}'"
    digits = load_digits()
    inputs = jnp.asarray(digits.data / 16.0).reshape((-1,) + net.input_shape)
    labels = jnp.asarray(digits.target)
    return Dataset(inputs, labels if net.classifier else jax.nn.one_hot(labels, 10, dtype=jnp.float64)), ""


@dataclass
class Trajectories:
    """Values recorded along runs, per seed s and learning rate l: `values[s, l, k, i]` = p_i(θ_k)
    for k = 0 … steps; `second_order[s, l, i]` = Σ_k τ² q_i(g_k) with q_i the quadratic part of
    p_i (the exact change of a quadratic law over a GD run); `sizes[s, i]` = Σ_α |c_α θ_0^α|."""

    values: np.ndarray
    second_order: np.ndarray
    sizes: np.ndarray


def run(net: Network, polys: PolynomialSet, quadratic: PolynomialSet, data: list[Dataset],
        thetas: jnp.ndarray, learning_rates: jnp.ndarray, optimizer: str, steps: int, batch: int,
        weight_decay: float, keys: jax.Array) -> Trajectories:
    """Train from each seed's θ_0 (rows of `thetas`, data `data[s]`, minibatch key `keys[s]`)
    once per learning rate, all in one compiled, vmapped call, and record the polynomials."""
    loss_grad = jax.grad(net.loss)

    def train(theta0, inputs, targets, key, learning_rate):
        opt = make_optimizer(optimizer, learning_rate, weight_decay)

        def step(carry, step_key):
            theta, state = carry
            if optimizer == "sgd":
                size = inputs.shape[0]
                chosen = jax.random.choice(step_key, size, (min(batch, size),), replace=False)
                grad = loss_grad(theta, inputs[chosen], targets[chosen], jax.random.fold_in(step_key, 1))
            else:
                grad = loss_grad(theta, inputs, targets, jax.random.fold_in(step_key, 1))
            updates, state = opt.update(grad, state, theta)
            theta = optax.apply_updates(theta, updates)
            return (theta, state), (polys.values(theta), learning_rate ** 2 * quadratic.values(grad))

        _, (values, second) = jax.lax.scan(step, (theta0, opt.init(theta0)), jax.random.split(key, steps))
        return jnp.concatenate([polys.values(theta0)[None], values]), second.sum(axis=0)

    over_rates = jax.vmap(train, in_axes=(None, None, None, None, 0))
    over_seeds = jax.jit(jax.vmap(over_rates, in_axes=(0, 0, 0, 0, None)))
    inputs = jnp.stack([d.inputs for d in data])
    targets = jnp.stack([d.targets for d in data])
    values, second = over_seeds(thetas, inputs, targets, keys, learning_rates)
    return Trajectories(np.asarray(values), np.asarray(second), np.stack([polys.sizes(theta) for theta in np.asarray(thetas)]))

"""`conslaw verify`: train the network and check its listed laws on the real runs.

What is checked, and against which theorem:

* gd / sgd: a law of gradient flow drifts under a discrete step by O(τ²) per step
  (Marcotte, Gribonval, Peyré 2025, Prop 5.1: at most (C_h C_L / 2) Σ τ_k²), while a function that
  is not a law moves by O(τ). The final relative error of each law family, fitted against τ on a
  log–log scale, must have slope ≈ 2 (verdict `conserved to O(τ²)`); the control ‖θ‖² has
  slope ≈ 1. Linear laws are conserved exactly by gd/sgd (their change is τ ∇h·g = 0): their
  error stays at rounding level, which also counts as conserved.
* weight decay λ (θ' + λθ = −∇L): a law h homogeneous of degree k obeys h(θ(t)) = e^{−kλt} h(θ(0))
  (Marcotte, Gribonval, Peyré 2025, Thm 2.1); for the scheme θ_{k+1} = (1 − τλ)θ_k − τ∇L the
  quantity (1 − τλ)^{−kK} h(θ_K) is conserved to O(τ²), and that is what is checked
  (verdict `decays as predicted`).
* gd: the exact second-order term. For h = θᵀAθ + bᵀθ a law, one step θ − τg changes h by exactly
  τ² gᵀAg; the measured drift over the run must equal Σ_k τ² g_kᵀAg_k to rounding.
* momentum / adam / sign: their flows are not gradient flow, so the laws of gradient flow are
  not predicted to hold: the drift and its slope are reported as measurements, without a verdict.

Errors are relative to the size of the law's terms at θ_0, Σ_α |c_α θ_0^α| (this is |h(θ_0)| when
the terms share a sign, and does not blow up when h(θ_0) happens to be near 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from conslaw_cli import analysis
from conslaw_cli.counting.graph.estimate import edges
from conslaw_cli.errors import ConslawError, TooLarge
from conslaw_cli.limits import DEFAULT_MAX_SECONDS, MAX_BYTES
from .model import Network, build_network
from .polynomials import PolynomialSet, quadratic_part
from .runs import OPTIMIZERS, Dataset, Trajectories, digits_dataset, random_dataset, run

CONTROL = "control ‖θ‖² (not a law)"
ROUNDING_FLOOR = 1e-12  # a final relative error below this at every τ is conservation to rounding
SLOPE_THRESHOLD = 1.5  # between 1 (not conserved) and 2 (conserved to second order)
CROSS_CHECK_TOLERANCE = 1e-9  # |measured − Σ τ² gᵀAg| relative to the law's size
DIVERGED_GROWTH = 1e6  # ‖θ‖² growth past which float64 rounding of a law's drift exceeds that tolerance
GRADIENT_FLOW_OPTIMIZERS = ("gd", "sgd")
# the cost of training (estimated_cost), measured on this machine (2 cores, JAX on CPU)
COMPILE_SECONDS, COMPILE_SECONDS_PER_LAYER = 1.5, 0.016
SECONDS_PER_USE_AND_EXAMPLE = 6e-9  # one weight use of one example, forward and backward
SECONDS_PER_LAW_TERM, SECONDS_PER_LAYER_STEP = 2e-9, 2e-6


@dataclass
class Settings:
    optimizer: str = "gd"
    learning_rates: tuple[float, ...] = (1e-4, 2e-4, 5e-4)
    steps: int = 50
    batch: int = 16
    weight_decay: float = 0.0
    seeds: int = 3
    data: str = "random"


@dataclass
class FamilyResult:
    """One law family (or the control) over all runs."""

    name: str
    laws: int
    is_control: bool
    curves: np.ndarray  # [seed, learning rate, step]: max relative error over the family's laws
    slopes: np.ndarray  # per seed: log–log slope of the final error against τ (nan when not fitted)
    verdict: str
    passed: bool | None  # None: measured only (no prediction)

    @property
    def final_errors(self) -> np.ndarray:
        """Mean over seeds of the final error, per learning rate."""
        return self.curves[:, :, -1].mean(axis=0)

    def to_json(self) -> dict:
        return {"family": self.name, "laws": self.laws, "control": self.is_control,
                "final_error_mean": self.final_errors.tolist(),
                **dict(zip(("slope_mean", "slope_std"), slope_statistics(self.slopes))),
                "verdict": self.verdict, "passed": self.passed}


@dataclass
class VerifyResult:
    name: str
    file: str
    settings: Settings
    families: list[FamilyResult]
    cross_check: float | None  # max |measured − predicted second-order drift| / size, gd only
    notes: list[str] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)  # runs whose values stopped being finite, described

    @property
    def failed(self) -> list[FamilyResult]:
        """Listed law families that failed their check, and a control that looked conserved."""
        return [f for f in self.families if f.passed is False]

    @property
    def cross_check_passed(self) -> bool:
        return self.cross_check is None or self.cross_check <= CROSS_CHECK_TOLERANCE

    @property
    def passed(self) -> bool:
        return not self.failed and self.cross_check_passed and not self.diverged

    def to_json(self) -> dict:
        s = self.settings
        return {"schema": 1, "name": self.name, "file": self.file, "optimizer": s.optimizer,
                "learning_rates": list(s.learning_rates), "steps": s.steps, "batch": s.batch,
                "weight_decay": s.weight_decay, "seeds": s.seeds, "data": s.data,
                "families": [f.to_json() for f in self.families],
                "second_order_cross_check": self.cross_check, "notes": self.notes,
                "diverged": self.diverged, "passed": self.passed}


def slope_statistics(slopes: np.ndarray) -> tuple[float | None, float | None]:
    """Mean and standard deviation over the seeds whose slope was fitted (None, None if none)."""
    finite = slopes[np.isfinite(slopes)]
    return (float(finite.mean()), float(finite.std())) if finite.size else (None, None)


def control_polynomial(variables: int) -> dict:
    """‖θ‖², the control: not a law of any network with a non-zero gradient."""
    return {(v, v): 1 for v in range(variables)}


def _law_groups(path: analysis.Source, variables: int) -> tuple[list[str], list[dict], list[int]]:
    """(group names, polynomials, group index of each polynomial): the laws `conslaw laws` lists,
    grouped by family, then the control ‖θ‖²."""
    result = analysis.laws(path, degree=2)
    names: list[str] = []
    polys, owners = [], []
    for law in result.laws:
        name = law.family or f"other laws of degree {law.degree}"
        if name not in names:
            names.append(name)
        polys.append(law.poly)
        owners.append(names.index(name))
    names.append(CONTROL)
    polys.append(control_polynomial(variables))
    owners.append(len(names) - 1)
    return names, polys, owners


def _datasets(net: Network, settings: Settings, path: analysis.Source, given=None) -> list[Dataset]:
    if given is not None:
        return [_given_dataset(net, *given, analysis.source_file(path))] * settings.seeds
    if settings.data == "digits":
        data, reason = digits_dataset(net)
        if data is None:
            first = net.graph.layers[0]
            raise ConslawError(f"--data digits does not fit this network: {reason}", analysis.source_file(path),
                               first.line, first.col, "use --data random (Gaussian inputs, random teacher)")
        return [data] * settings.seeds
    return [random_dataset(net, np.random.default_rng([1, s])) for s in range(settings.seeds)]


def _given_dataset(net: Network, inputs, targets, file: str) -> Dataset:
    """The user's own data (the Python API's `inputs` and `targets`), shapes checked against the
    network: inputs (N, *input shape); integer labels (N,) for a classifier, else (N, *output shape)."""
    inputs, targets = np.asarray(inputs, dtype=float), np.asarray(targets)
    first = net.graph.layers[0]
    if inputs.ndim < 1 or inputs.shape[1:] != net.input_shape or len(inputs) == 0:
        raise ConslawError(f"inputs of shape {inputs.shape} do not fit this network's input "
                           f"{net.input_shape}", file, first.line, first.col,
                           f"give an array of shape (N, {', '.join(map(str, net.input_shape))}) with N >= 1")
    output = jax.eval_shape(net.batch, jnp.zeros(net.num_params), jnp.asarray(inputs[:1])).shape[1:]
    if net.classifier:
        classes = output[-1]
        if targets.shape != (len(inputs),) or not np.issubdtype(targets.dtype, np.integer) \
                or targets.min() < 0 or targets.max() >= classes:
            raise ConslawError(f"targets of a classifier are {len(inputs)} integer labels in 0..{classes - 1}",
                               file, first.line, first.col, "give an integer array of shape (N,)")
        return Dataset(jnp.asarray(inputs), jnp.asarray(targets))
    if targets.shape != (len(inputs),) + tuple(output):
        raise ConslawError(f"targets of shape {targets.shape} do not fit this network's output {tuple(output)}",
                           file, first.line, first.col, "give one output per input example")
    return Dataset(jnp.asarray(inputs), jnp.asarray(targets, dtype=float))


def _relative_errors(traj: Trajectories, polys: list[dict], settings: Settings) -> np.ndarray:
    """[seed, lr, step, law]: |h̃(θ_k) − h(θ_0)| / size, with h̃ = h without weight decay and
    h̃(θ_k) = (1 − τλ)^{−deg·k} h(θ_k) with it (Thm 2.1, homogeneous laws; nan for the others)."""
    values = traj.values
    if settings.weight_decay:
        degrees = np.array([_homogeneous_degree(p) for p in polys])
        rates = np.asarray(settings.learning_rates)[:, None, None]
        steps = np.arange(values.shape[2])[None, :, None]
        values = values * (1 - rates * settings.weight_decay) ** (-degrees[None, None, :] * steps)
    return np.abs(values - values[:, :, :1]) / traj.sizes[:, None, None, :]


def _homogeneous_degree(poly: dict) -> float:
    degrees = {len(m) for m in poly}
    return degrees.pop() if len(degrees) == 1 else np.nan


def _slopes(finals: np.ndarray, learning_rates) -> np.ndarray:
    """Per seed, the least-squares slope of log(final error) against log τ (nan if < 2 rates)."""
    if len(learning_rates) < 2:
        return np.full(finals.shape[0], np.nan)
    logs = np.log(np.maximum(finals, 1e-300))
    return np.polyfit(np.log(learning_rates), logs.T, 1)[0]


def _judge(curves: np.ndarray, slopes: np.ndarray, settings: Settings, is_control: bool) -> tuple[str, bool | None]:
    """A verdict and whether it is the expected one (None: no prediction). A seed conserves the
    family if its final errors stay at rounding level or its slope is ≥ SLOPE_THRESHOLD; the
    verdict follows the majority of seeds (median)."""
    finals = curves[:, :, -1]
    if np.isnan(finals).any():
        return "not checked: not homogeneous (Thm 2.1 gives no closed form)", None
    if settings.optimizer not in GRADIENT_FLOW_OPTIMIZERS:
        return f"measured only ({settings.optimizer} is not gradient flow: no prediction)", None
    at_rounding = (finals <= ROUNDING_FLOOR).all(axis=1)
    if len(settings.learning_rates) < 2 and not at_rounding.all():
        return "no verdict: give at least two --lr values", None
    conserved = bool(np.median(np.where(at_rounding, np.inf, slopes)) >= SLOPE_THRESHOLD)
    word = "decays as predicted" if settings.weight_decay else "conserved to O(τ²)"
    if at_rounding.all():
        word += " (exact to rounding)"
    if is_control:
        return ("as expected, not conserved" if not conserved else
                "looks conserved: the run cannot tell laws apart (raise --lr or --steps)"), not conserved
    return (word if conserved else ("does NOT decay as predicted" if settings.weight_decay else "NOT conserved")), conserved


def _cross_check(traj: Trajectories, polys: list[dict], settings: Settings) -> float | None:
    """max over laws, seeds and τ of |h(θ_K) − h(θ_0) − Σ_k τ² q(g_k)| / size (gd, no decay)."""
    if settings.optimizer != "gd" or settings.weight_decay or len(polys) < 2:
        return None
    laws = slice(0, len(polys) - 1)  # the control is not a law
    drift = traj.values[:, :, -1, laws] - traj.values[:, :, 0, laws]
    mismatch = np.abs(drift - traj.second_order[:, :, laws]) / traj.sizes[:, None, laws]
    return float(mismatch.max())


def estimated_cost(net: Network, settings: Settings, polys: list[dict], examples: int) -> tuple[float, int]:
    """(seconds, bytes) of the training runs, from the network and the options: JAX compiles the
    network once (per layer), then every run (seeds × learning rates, vmapped) takes `steps`
    steps of a forward and backward pass over `examples` examples and evaluates every law; the
    values of every law at every step are kept. Measured here: ReLU 10-5-3, 2,000 steps 1.6 s; a
    200-layer tanh chain, 1 step 7.9 s."""
    layers = sum(1 for _ in net.graph.walk())
    runs = settings.seeds * len(settings.learning_rates)
    per_step = (edges(net.graph.layers) * examples * SECONDS_PER_USE_AND_EXAMPLE
                + sum(len(p) for p in polys) * SECONDS_PER_LAW_TERM + layers * SECONDS_PER_LAYER_STEP)
    seconds = COMPILE_SECONDS + COMPILE_SECONDS_PER_LAYER * layers + runs * settings.steps * per_step
    return seconds, 2 * 8 * runs * (settings.steps + 1) * len(polys)


def _refuse_hopeless(net: Network, settings: Settings, polys: list[dict], examples: int, max_seconds: float) -> float:
    """The estimated seconds of the training runs; TooLarge over the budget or the memory limit."""
    seconds, memory = estimated_cost(net, settings, polys, examples)
    if seconds > max_seconds or memory > MAX_BYTES:
        raise TooLarge(f"training {settings.seeds} seeds × {len(settings.learning_rates)} learning rates × "
                       f"{settings.steps:,} steps of this network would take about {seconds:,.0f} s and "
                       f"{memory / 2**30:,.1f} GB (budget {max_seconds:,g} s, {MAX_BYTES // 2**30} GB)",
                       "fewer --steps, --seeds or --lr values, or raise --max-seconds N if you can wait")
    return seconds


def verify(path: analysis.Source, settings: Settings, polys_override: list[dict] | None = None,
           dataset: tuple | None = None, max_seconds: float = DEFAULT_MAX_SECONDS,
           progress: Callable[[str], None] = lambda text: None) -> VerifyResult:
    """Train the network of `path` and check its laws (see the module docstring); refused with
    the estimate, before training, when it would take longer than `max_seconds`; `progress(text)`
    is told what the training will take.

    `polys_override` replaces the listed laws by given polynomials, one family (for testing that
    a wrong law is caught); `dataset` is the user's (inputs, targets), used for every seed."""
    net = build_network(analysis.load_graph(path))
    if not net.num_params:
        first = net.graph.layers[0]
        raise ConslawError("this network has no parameters: there is nothing to train", analysis.source_file(path), first.line,
                           first.col, "add a linear, conv or attention layer")
    if polys_override is None:
        names, polys, owners = _law_groups(path, net.num_params)
    else:
        names = ["given polynomials", CONTROL]
        polys = list(polys_override) + [control_polynomial(net.num_params)]
        owners = [0] * len(polys_override) + [1]
    data = _datasets(net, settings, path, dataset)
    examples = len(data[0].inputs) if settings.optimizer != "sgd" else min(settings.batch, len(data[0].inputs))
    with analysis.located(net.graph):
        seconds = _refuse_hopeless(net, settings, polys, examples, max_seconds)
    progress(f"training {settings.seeds * len(settings.learning_rates)} runs of {settings.steps:,} steps, "
             f"about {seconds:,.0f} s in all (estimated; JAX compiles first)")
    thetas = jnp.asarray(np.stack([net.init(np.random.default_rng([0, s])) for s in range(settings.seeds)]))
    traj = run(net, PolynomialSet(polys), PolynomialSet([quadratic_part(p) for p in polys]), data, thetas,
               jnp.asarray(settings.learning_rates, dtype=jnp.float64), settings.optimizer, settings.steps,
               settings.batch, settings.weight_decay, jax.random.split(jax.random.PRNGKey(2000), settings.seeds))
    diverged = _divergences(traj, settings)
    with np.errstate(invalid="ignore", over="ignore"):  # a diverged run's values are inf or NaN
        errors = _relative_errors(traj, polys, settings)
    families = []
    for index, name in enumerate(names):
        members = [i for i, owner in enumerate(owners) if owner == index]
        curves = errors[..., members].max(axis=-1)
        if diverged:
            slopes = np.full(settings.seeds, np.nan)
            verdict, passed = "no verdict: a run diverged (see below)", None
        else:
            slopes = _slopes(curves[:, :, -1], settings.learning_rates)
            slopes[(curves[:, :, -1] <= ROUNDING_FLOOR).all(axis=1)] = np.nan  # a fit through rounding noise
            verdict, passed = _judge(curves, slopes, settings, name == CONTROL)
        families.append(FamilyResult(name, len(members), name == CONTROL, curves, slopes, verdict, passed))
    return VerifyResult(net.graph.name, analysis.source_file(path), settings, families,
                        None if diverged else _cross_check(traj, polys, settings), _notes(settings, net), diverged)


def _divergences(traj: Trajectories, settings: Settings) -> list[str]:
    """For each learning rate whose runs diverged: the values stopped being finite (loss,
    parameters or a law's value inf or NaN), or ‖θ‖² (the control, last of the values) grew more
    than DIVERGED_GROWTH-fold, past which float64 rounding of the laws' values exceeds the
    second-order check's tolerance. Which rate, at which step first, in how many seeds. A diverged
    run is a result: no law is judged on it."""
    with np.errstate(invalid="ignore", over="ignore"):
        norms = traj.values[..., -1]  # [seed, lr, step]
        bad = ~np.isfinite(traj.values).all(axis=3) | ~(norms <= DIVERGED_GROWTH * norms[:, :, :1])
    found = []
    for index, rate in enumerate(settings.learning_rates):
        if bad[:, index, :].any():
            first = int(np.argmax(bad[:, index, :].any(axis=0)))
            seeds = int(bad[:, index, :].any(axis=1).sum())
            found.append(f"τ = {rate:g} diverged: the values stopped being finite or ‖θ‖² grew over "
                         f"{DIVERGED_GROWTH:,.0f}-fold by step {first} ({seeds} of {settings.seeds} seeds); "
                         "lower the learning rate")
    return found


def _notes(settings: Settings, net: Network) -> list[str]:
    notes = []
    if net.dropouts:
        rates = ", ".join(f"{l.name} {l.options['dropout']:g}" for l in net.dropouts)
        notes.append(f"dropout ({rates}): these runs drop units, a new mask every step (inverted dropout); the "
                     "laws listed are those of the network without dropout. A mask commutes with the rescaling "
                     "of a neuron or channel, so those laws stay conserved; between two linear layers it breaks "
                     "their GL symmetry except its diagonal, so Gram laws off the diagonal drift.")
    if settings.optimizer not in GRADIENT_FLOW_OPTIMIZERS:
        notes.append(f"{settings.optimizer}: the laws listed are laws of gradient flow; this optimizer follows "
                     "another flow, so their drift is a measurement, not a test (sign-flow laws: "
                     "conslaw count --flow sign).")
    if settings.weight_decay:
        notes.append(f"weight decay λ = {settings.weight_decay}: checked is (1 − τλ)^(−k·step) h(θ_step) = h(θ_0) "
                     "for a law homogeneous of degree k (Marcotte, Gribonval, Peyré 2025, Thm 2.1).")
    return notes


__all__ = ["OPTIMIZERS", "Settings", "VerifyResult", "verify"]


def slope_text(slopes: np.ndarray) -> str:
    """'1.93 ± 0.04' (mean ± standard deviation over seeds), or '—' when not fitted."""
    mean, std = slope_statistics(slopes)
    return "—" if mean is None else f"{mean:.2f} ± {std:.2f}"


def verify_table(result: VerifyResult):
    """A rich table: one row per law family and the control."""
    from conslaw_cli.sanitize import terminal_markup as escape  # names literally: no ESC or BEL reaches the terminal
    from rich.table import Table

    s = result.settings
    title = (f"{result.name}: {s.optimizer}, {s.steps} steps, {s.seeds} seeds, data {s.data}"
             + (f", weight decay {s.weight_decay}" if s.weight_decay else ""))
    table = Table(title=escape(title), title_justify="left")
    table.add_column("family", min_width=36)
    table.add_column("laws", justify="right")
    for rate in s.learning_rates:
        table.add_column(f"error τ={rate:g}", justify="right")
    table.add_column("slope (log–log)", justify="right")
    table.add_column("verdict")
    for family in result.families:
        colour = {True: "green", False: "red", None: "yellow"}[family.passed]
        table.add_row(escape(family.name), str(family.laws),
                      *(f"{e:.2e}" if np.isfinite(e) else "diverged" for e in family.final_errors),
                      slope_text(family.slopes), f"[{colour}]{escape(family.verdict)}[/]")
    return table


def verify_footer(result: VerifyResult) -> list[str]:
    """Lines under the table: what the error is, the second-order cross-check, notes."""
    lines = ["error = |h(θ_K) − h(θ_0)| / Σ|c_α θ_0^α| after the last step, mean over seeds; slope of log error "
             "against log τ, mean ± std over seeds (≈ 2 for a law, ≈ 1 for a function that is not one)."]
    if result.cross_check is not None:
        status = "matches" if result.cross_check_passed else "does NOT match"
        lines.append(f"exact second-order check: the drift of every law {status} Σ τ² gᵀAg "
                     f"(max mismatch {result.cross_check:.1e} of the law's size; tolerance {CROSS_CHECK_TOLERANCE:.0e}).")
    return lines + result.notes + result.diverged

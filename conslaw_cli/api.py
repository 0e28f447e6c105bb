"""The Python API: what the `conslaw` command does, callable from a notebook (docs/api.md).

    from conslaw_cli import Architecture, count, laws
    count(Architecture.mlp([4, 5, 3])).laws          # 5: one rescaling law per hidden neuron

Every entry point takes an `Architecture` (from a YAML file, YAML text, a dict or a builder), or
the path of an architecture file as the command line does. Results are the immutable objects the
command line renders (`CountResult`, `LawsResult`, `VerifyResult`), each with `to_json()`; bad
input raises the same located `ConslawError` the command line prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import analysis
from .counting.progress import Progress, ProgressEvent
from .errors import ConslawError
from .limits import (DEFAULT_MAX_BLOCK, DEFAULT_MAX_SECONDS, DEFAULT_MAX_TERMS, DEFAULT_MAX_UNKNOWNS,
                     verify_option_problem)
from .spec import ArchSpec, parse_spec, read_architecture_text

if TYPE_CHECKING:
    import numpy as np

    from .graph import Graph
    from conslaw_cli.results.laws import LawsResult
    from conslaw_cli.results.count import CountResult
    from conslaw_cli.flows.sign import SignFlowResult
    from conslaw_cli.training.verify import VerifyResult
    from conslaw_cli.render.report import ArchitectureReport, RefusedReport
    from conslaw_cli.phi.compiler import Phi

REPORT_FORMATS = ("markdown", "latex", "json")


class Architecture:
    """A validated architecture: the layers of the YAML reference (README.md), checked when made.

    Make one with `Architecture.from_file(path)`, `Architecture.from_yaml(text)`,
    `Architecture.from_dict(data)`, `Architecture.mlp(sizes)`, or
    `Architecture(input=..., layers=[...])` with the keys of the YAML file. Messages of bad input
    are located in `yaml`, the text that was validated (for a dict, the YAML it is written as)."""

    __slots__ = ("spec", "yaml")

    def __init__(self, input: Any, layers: list, name: str = "architecture", description: str = ""):
        data: dict[str, Any] = {"name": name, "input": input, "layers": layers}
        if description:
            data["description"] = description
        built = Architecture.from_dict(data, label="<Architecture>")
        object.__setattr__(self, "spec", built.spec)
        object.__setattr__(self, "yaml", built.yaml)

    @classmethod
    def _of(cls, spec: ArchSpec, text: str) -> "Architecture":
        made = object.__new__(cls)
        object.__setattr__(made, "spec", spec)
        object.__setattr__(made, "yaml", text)
        return made

    def __setattr__(self, name, value):
        raise AttributeError("an Architecture is immutable: make a new one")

    @classmethod
    def from_file(cls, path: str | Path) -> "Architecture":
        """The architecture of a YAML file (the network's name defaults to the file's stem)."""
        text = read_architecture_text(path)  # read once, under the file limits
        return cls._of(parse_spec(text, str(path), default_name=Path(path).stem), text)

    @classmethod
    def from_yaml(cls, text: str, name: str = "architecture", label: str = "<yaml>") -> "Architecture":
        """The architecture written in `text`; `label` names it in messages and results."""
        if not isinstance(text, str):
            raise TypeError(f"from_yaml takes YAML text (a str), not {type(text).__name__}")
        return cls._of(parse_spec(text, label, default_name=name), text)

    @classmethod
    def from_dict(cls, data: Mapping, label: str = "<dict>") -> "Architecture":
        """The architecture of a mapping with the YAML file's keys (`input`, `layers`, `name`),
        e.g. `{"input": 4, "layers": [{"linear": {"out": 3}}, "relu", {"linear": {"out": 1}}]}`."""
        import yaml

        if not isinstance(data, Mapping):
            raise TypeError(f"from_dict takes a mapping, not {type(data).__name__}")
        try:
            text = yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as exc:
            raise ConslawError(f"the architecture cannot be written as YAML: {exc}", label,
                               hint="use numbers, strings, booleans, lists and dicts") from None
        return cls._of(parse_spec(text, label, default_name=str(data.get("name", "architecture"))), text)

    @classmethod
    def mlp(cls, sizes: Iterable[int], activation: str = "relu", bias: bool = False,
            name: str | None = None) -> "Architecture":
        """A fully connected network: input `sizes[0]`, then a linear layer per further size with
        `activation` between consecutive ones (none after the last), biases when `bias`."""
        sizes = [_size(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError("an MLP needs at least an input size and an output size")
        layers: list = []
        for out in sizes[1:]:
            if layers:
                layers.append(activation)
            layers.append({"linear": {"out": out, "bias": bias} if bias else {"out": out}})
        label = name or "mlp_" + "-".join(map(str, sizes))
        return cls.from_dict({"name": label, "input": sizes[0], "layers": layers}, label=f"<{label}>")

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        """The file name (or label) that messages and results give."""
        return self.spec.file

    def graph(self) -> "Graph":
        """The layer graph: layers with their shapes, named parameter tensors, D."""
        return analysis.load_graph(self.spec)

    @property
    def parameters(self) -> int:
        """D, the number of parameters (scalars of every weight and bias)."""
        return self.graph().num_params

    @property
    def variables(self) -> list[str]:
        """The parameters' names in θ's order (the order of `Law.evaluate`'s θ)."""
        from conslaw_cli.phi.compiler import VariableTable

        return VariableTable(self.graph()).names

    def __repr__(self) -> str:
        return f"Architecture({self.name!r}, file={self.file!r})"


def _plain(value):
    """numpy scalars and tuples as the plain Python values safe_dump writes (a size from a sweep
    is often a numpy integer)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        return value.item()
    return value


def _size(value) -> int:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"sizes are whole numbers >= 1, not {value!r}")
    return value


def _check_choice(option: str, value: str, choices: Iterable[str]) -> None:
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(choices)}, not {value!r}")


def _source(architecture: Architecture | str | Path | Mapping) -> ArchSpec | str | Path:
    """What the engines take: a validated spec, or a file path (read as the command line does)."""
    if isinstance(architecture, Architecture):
        return architecture.spec
    if isinstance(architecture, Mapping):
        return Architecture.from_dict(architecture).spec
    if isinstance(architecture, (str, Path)):
        return architecture
    raise TypeError(f"expected an Architecture, a dict or a file path, not {type(architecture).__name__}")


def count(architecture: Architecture | str | Path | Mapping, *, seed: int = 0, block: str | None = None,
          max_block: int = DEFAULT_MAX_BLOCK, max_terms: int = DEFAULT_MAX_TERMS,
          max_seconds: float = DEFAULT_MAX_SECONDS, progress: Progress | None = None) -> "CountResult":
    """The number of independent conservation laws (`conslaw count`): D − dim Lie(V)(θ) at
    random points, exact mod p with `error_bound`; `exact` says whether it is the network's count
    or a lower bound on it. With `block` (comma-separated layer names), the block laws. A count
    whose estimate (from the layer shapes, before any work) exceeds `max_seconds` is refused.
    `progress(event)` receives a ProgressEvent (block i of n, its size, the stage, the bracket
    step, the dimension reached, the estimated seconds left) as the work goes on."""
    return analysis.count(_source(architecture), seed=seed, max_terms=max_terms, progress=progress, block=block,
                          max_block=max_block, max_seconds=max_seconds)


def factorization(architecture: Architecture | str | Path | Mapping, *, max_terms: int = DEFAULT_MAX_TERMS) -> "Phi":
    """The factorization φ the counts are computed from (`conslaw phi`): its pieces, components
    and the theorem backing it (refused above `max_terms` polynomial terms)."""
    return analysis.load(_source(architecture), max_terms)[1]


def sign_flow_count(architecture: Architecture | str | Path | Mapping, *, seed: int = 0,
                    max_seconds: float = DEFAULT_MAX_SECONDS) -> "SignFlowResult":
    """`conslaw count --flow sign`: laws of the sign flow θ' = −sign(∇L) (an upper bound); refused
    with the estimate when it would take longer than `max_seconds`."""
    from .flows import sign as sign_flow

    return sign_flow.count(_source(architecture), seed, max_seconds)


def per_block(architecture: Architecture | str | Path | Mapping, *, seed: int = 0,
              max_terms: int = DEFAULT_MAX_TERMS):
    """`conslaw count --per-block`: (name, rows of block laws per residual block and layer, total)."""
    return analysis.per_block(_source(architecture), seed, max_terms)


def numerical_check(architecture: Architecture | str | Path | Mapping, result: "CountResult",
                    *, seed: int = 0) -> dict:
    """`conslaw count --check`: the network's own numerical Lie trace (float64) beside `result`."""
    from conslaw_cli.counting.graph.upper_bound import certify
    from conslaw_cli.training.lie_check import check_status

    graph = analysis.load_graph(_source(architecture))
    bound = result.upper_bound  # a theorem-backed count has none yet: the check needs it to tell phantoms
    if bound is None:
        bound = certify(graph, graph.num_params - result.laws, seed).laws
    return check_status(graph, result.laws, seed, bound)


def laws(architecture: Architecture | str | Path | Mapping, *, degree: int = 2, seed: int = 0,
         block: str | None = None, max_terms: int = DEFAULT_MAX_TERMS,
         max_unknowns: int = DEFAULT_MAX_UNKNOWNS) -> "LawsResult":
    """The polynomial laws of degree ≤ `degree` (`conslaw laws`), named by family, with the
    verdict against the count (`complete`, `exact`)."""
    return analysis.laws(_source(architecture), degree=degree, seed=seed, max_terms=max_terms, block=block,
                         max_unknowns=max_unknowns)


def architecture_report(architecture: Architecture | str | Path | Mapping, *, degree: int = 2, seed: int = 0,
                        max_terms: int = DEFAULT_MAX_TERMS, verify: bool = False,
                        progress: Callable[[str], None] | None = None,
                        refused_as_section: bool = False) -> "ArchitectureReport | RefusedReport":
    """What a report says of one architecture: layers, φ, count and laws, and with `verify` the
    checks of training runs at `verify`'s defaults; `progress(text)` says what is being computed.
    With `refused_as_section`, bad input or a refused size gives a RefusedReport (the catalog's
    "Not reported" section) instead of raising ConslawError."""
    from .render import report as report_module

    settings = None
    if verify:  # JAX takes 1.7 s to import: only for the training checks
        from .training.verify import Settings

        settings = Settings()
    try:
        return report_module.build(_source(architecture), degree, seed, max_terms, progress or (lambda text: None),
                                   settings)
    except ConslawError as error:
        if not refused_as_section:
            raise
        return report_module.RefusedReport(error)


def report(architectures: Architecture | str | Path | Mapping | Iterable, *, format: str = "markdown",
           degree: int = 2, seed: int = 0, timings: bool = False, max_terms: int = DEFAULT_MAX_TERMS,
           fragment: bool = False, heading: str = "section", verify: bool = False) -> str:
    """The text of `conslaw report`: a report of one architecture or a catalog of several, in
    Markdown, LaTeX (a whole document, or with `fragment` its body for \\input, each architecture
    under a `heading`: section, subsection or none) or JSON. Items may be reports already built
    by `architecture_report`."""
    from .render import report as report_module

    _check_choice("format", format, REPORT_FORMATS)
    _check_choice("heading", heading, ("section", "subsection", "none"))
    if fragment and format != "latex":
        raise ValueError("fragment is a LaTeX option (format='latex')")
    items = [architectures] if isinstance(architectures, (Architecture, str, Path, Mapping)) else list(architectures)
    reports = [a if isinstance(a, (report_module.ArchitectureReport, report_module.RefusedReport))
               else architecture_report(a, degree=degree, seed=seed, max_terms=max_terms, verify=verify) for a in items]
    if format == "latex":
        return report_module.to_latex(reports, seed, fragment, timings, heading)
    if format == "markdown":
        return report_module.to_markdown(reports, seed, timings)
    return report_module.to_json(reports, seed, timings)


def verify(architecture: Architecture | str | Path | Mapping, *, optimizer: str = "gd",
           learning_rates: Iterable[float] = (1e-4, 2e-4, 5e-4), steps: int = 50, batch: int = 16,
           weight_decay: float = 0.0, seeds: int = 3, data: str = "random",
           inputs: "np.ndarray | None" = None, targets: "np.ndarray | None" = None,
           max_seconds: float = DEFAULT_MAX_SECONDS, progress: Callable[[str], None] | None = None) -> "VerifyResult":
    """Train the network and check every listed law on the runs (`conslaw verify`).

    `data` is "random" (Gaussian inputs, a random teacher) or "digits" (scikit-learn's 8×8); or
    give your own `inputs` (shape (N, *input shape)) and `targets` (integer labels for a softmax
    head, else outputs of the network's output shape). A run whose estimate (the network's size,
    steps × seeds × learning rates) exceeds `max_seconds` is refused before training;
    `progress(text)` is told the estimate before training starts."""
    from .training import verify as verify_module
    from conslaw_cli.training.runs import OPTIMIZERS

    learning_rates = tuple(float(t) for t in learning_rates)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_choice("data", data, ("random", "digits"))
    problem = verify_option_problem(learning_rates, steps, batch, seeds, weight_decay)
    if problem:
        raise ValueError(": ".join(problem))
    settings = verify_module.Settings(optimizer, learning_rates, steps, batch,
                                      weight_decay, seeds, "given" if inputs is not None else data)
    dataset = None
    if (inputs is None) != (targets is None):
        raise ValueError("give both inputs and targets, or neither")
    if inputs is not None:
        dataset = (inputs, targets)
    return verify_module.verify(_source(architecture), settings, dataset=dataset, max_seconds=max_seconds,
                                progress=progress or (lambda text: None))

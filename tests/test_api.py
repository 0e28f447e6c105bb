"""The Python API (docs/api.md): its examples run as written, and the API's edges.

The counts asserted here come from theorems cited where they appear: a two-layer ReLU network
has one rescaling law per hidden neuron (Marcotte, Gribonval, Peyré 2023, Ex. 2.2 and 3.6)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _examples() -> list[str]:
    """The python blocks of docs/api.md, each padded with blank lines to its place in the file
    (a failure names the document's line)."""
    text = (ROOT / "docs/api.md").read_text(encoding="utf-8")
    return ["\n" * text[:m.start(1)].count("\n") + m.group(1)
            for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)]


def test_the_examples_of_docs_api_md_run(monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name zoo files relative to the checkout
    blocks = _examples()
    assert sum(block.count("assert") for block in blocks) >= 10
    session = {"__name__": "docs_api"}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), session)


def test_the_issue_one_liner_prints_five():
    # a 4-5-3 ReLU network without biases: 5 hidden neurons, 5 laws (Ex. 2.2 and 3.6)
    done = subprocess.run([sys.executable, "-c", "from conslaw_cli import count, Architecture; "
                           "print(count(Architecture.mlp([4,5,3])).laws)"],
                          capture_output=True, text=True, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "5\n"


def test_importing_the_package_loads_no_engine():
    probe = ("import sys, conslaw_cli; print(sorted(m for m in sys.modules if m.startswith('conslaw_cli.') "
             "or m in ('numpy', 'yaml', 'numba', 'flint')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_every_source_gives_the_same_count_as_the_file():
    from conslaw_cli import Architecture, count

    path = ROOT / "architectures/mlp_relu.yaml"
    text = path.read_text()
    by_file = count(path)
    for source in (Architecture.from_file(path), Architecture.from_yaml(text), str(path)):
        assert count(source).laws == by_file.laws == 5  # mlp_relu.yaml: 5, one per hidden neuron


def test_results_and_architectures_are_immutable():
    import dataclasses

    from conslaw_cli import Architecture, count, laws

    arch = Architecture.mlp([2, 3, 1])
    with pytest.raises(AttributeError):
        arch.spec = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        count(arch).laws = 0
    found = laws(arch)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.laws[0].degree = 3
    assert isinstance(found.laws, tuple)


def test_a_law_evaluates_like_its_sympy_expression():
    from conslaw_cli import Architecture, laws

    arch = Architecture.mlp([3, 2, 2], bias=True)
    found = laws(arch)
    theta = np.random.default_rng(3).standard_normal(arch.parameters)
    for law in found.laws:
        expr = law.sympy()
        symbols = {s.name: s for s in expr.free_symbols}
        by_sympy = float(expr.subs({symbols[n]: theta[i] for i, n in enumerate(found.variables) if n in symbols}))
        assert np.isclose(law.evaluate(theta), by_sympy)
        grad = law.gradient(theta)
        step = 1e-6 * np.eye(arch.parameters)
        numeric = [(law.evaluate(theta + e) - law.evaluate(theta - e)) / 2e-6 for e in step]
        assert np.allclose(grad, numeric, atol=1e-6)


def test_bad_arguments_are_clear():
    from conslaw_cli import Architecture, ConslawError, count, report, verify

    with pytest.raises(TypeError, match="an Architecture, a dict or a file path"):
        count(42)
    with pytest.raises(ValueError, match="sizes are whole numbers"):
        Architecture.mlp([4, 0, 2])
    with pytest.raises(ValueError, match="format must be one of"):
        report(Architecture.mlp([2, 2]), format="html")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        verify(Architecture.mlp([2, 2]), optimizer="lbfgs")
    with pytest.raises(ConslawError, match="inputs of shape"):
        verify(Architecture.mlp([2, 2]), steps=1, seeds=1, inputs=np.zeros((4, 3)), targets=np.zeros((4, 2)))
    with pytest.raises(ConslawError) as error:
        Architecture(input=4, layers=[{"linear": {"out": -1}}])
    assert error.value.file == "<Architecture>" and error.value.line > 1
    with pytest.raises(ConslawError, match="cannot read file"):
        count(ROOT / "no_such_file.yaml")


def test_the_law_wants_theta_of_the_right_length():
    from conslaw_cli import Architecture, laws

    law = laws(Architecture.mlp([2, 2, 1])).laws[0]
    with pytest.raises(ValueError, match=r"θ must have shape \(6,\)"):
        law.evaluate(np.zeros(5))

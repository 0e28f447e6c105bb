"""`conslaw laws`: the families of the papers, exact polynomials, the verdict (docs/method.md §4, §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conslaw_cli import analysis, laws
from conslaw_cli.cli import app
from conftest import mlp_yaml
from test_engine import make_phi

ROOT = Path(__file__).parent.parent
runner = CliRunner()


@pytest.fixture
def laws_of(tmp_path):
    def run(text: str, degree: int = 2):
        path = tmp_path / "arch.yaml"
        path.write_text(text)
        return analysis.laws(path, degree=degree)

    return run


def family_counts(result) -> dict[str, int]:
    return {family.name: n for family, n in result.families}


def var(result, name: str) -> int:
    return result.variables.index(name)


def test_two_layer_linear_gram_entries(laws_of):
    # Marcotte et al. 2023, Prop 4.2: the entries of UᵀU − VᵀV (U = linear2.weightᵀ... here W1 W1ᵀ − W2ᵀ W2), r(r+1)/2
    result = laws_of(mlp_yaml((3, 4, 2)))
    assert family_counts(result) == {
        "upper triangle of linear1.weight·linear1.weightᵀ − linear2.weightᵀ·linear2.weight": 10}
    assert result.complete and result.explained_by_families and result.count == 10
    # one entry written out: (W1 W1ᵀ − W2ᵀ W2)[0,1]
    w1 = lambda i, j: var(result, f"linear1.weight[{i},{j}]")  # noqa: E731
    w2 = lambda i, j: var(result, f"linear2.weight[{i},{j}]")  # noqa: E731
    entry = {tuple(sorted((w1(0, i), w1(1, i)))): 1 for i in range(3)}
    entry.update({tuple(sorted((w2(o, 0), w2(o, 1)))): -1 for o in range(2)})
    assert any(law.poly == entry for law in result.laws)


@pytest.mark.parametrize("widths,per_layer", [((4, 3, 2, 5), [6, 3]), ((2, 3, 3, 2), [6, 6]), ((3, 3, 3, 3), [6, 6])])
def test_deep_linear_gram_laws_per_hidden_layer(laws_of, widths, per_layer):
    # Marcotte et al. 2023, Prop 4.1, App. I; totals are the counts of the count issue (9, 12, 12)
    result = laws_of(mlp_yaml(widths))
    assert list(family_counts(result).values()) == per_layer
    assert result.complete and sum(per_layer) == result.count


def test_relu_with_biases_rescaling_laws(laws_of):
    # Marcotte et al. 2023, Ex. 2.2, Marcotte et al. 2025, Prop 3.5: |u_k|² − |v_k|² − b_k²... with PyTorch names:
    # |linear1.weight[k,:]|² + linear1.bias[k]² − |linear2.weight[:,k]|²
    result = laws_of(mlp_yaml((3, 4, 2), "relu", True))
    assert list(family_counts(result).values()) == [4] and result.complete
    law = next(l for l in result.laws if var(result, "linear1.bias[2]") in {v for m in l.poly for v in m})
    expected = {(var(result, f"linear1.weight[2,{i}]"),) * 2: 1 for i in range(3)}
    expected[(var(result, "linear1.bias[2]"),) * 2] = 1
    expected.update({(var(result, f"linear2.weight[{o},2]"),) * 2: -1 for o in range(2)})
    assert law.poly == expected


def test_conv_per_channel_laws(laws_of):
    # Marcotte et al. 2025, Thm 3.6: one law per hidden channel
    result = laws_of((ROOT / "architectures/conv_relu.yaml").read_text())
    assert list(family_counts(result).values()) == [3] and "per hidden channel" in result.families[0][0].name
    assert result.complete


def test_attention_gram_laws(laws_of):
    # Marcotte et al. 2025, Thm 3.8: QQᵀ − KKᵀ and VVᵀ − OOᵀ, d1(d1+1)/2 each
    result = laws_of((ROOT / "architectures/attention.yaml").read_text())
    assert family_counts(result) == {"upper triangle of attention1.Q·attention1.Qᵀ − attention1.K·attention1.Kᵀ": 6,
                                     "upper triangle of attention1.V·attention1.Vᵀ − attention1.O·attention1.Oᵀ": 6}
    assert result.complete


def test_softmax_head_column_sums(laws_of):
    # Marcotte et al. 2025, Prop 3.11, Cor 2.8: the m column sums, degree 1
    result = laws_of("input: 3\nlayers:\n  - softmax_head: {classes: 4}\n")
    assert list(family_counts(result).values()) == [3]
    assert all(law.degree == 1 and len(law.poly) == 4 for law in result.laws)
    assert result.products == 6 and result.complete  # products of pairs of column sums at degree 2


def test_relu_and_softmax_head_both_families(laws_of):
    result = laws_of((ROOT / "architectures/softmax_head.yaml").read_text())
    names = list(family_counts(result))
    assert names[0].startswith("column sums") and "per hidden neuron" in names[1]
    assert list(family_counts(result).values()) == [5, 5] and result.complete


@pytest.mark.parametrize("D", [2, 3, 5])
def test_single_monomial_laws_are_squares_differences(D):
    # SageMath reference Part B: φ = x1⋯xD has the D − 1 laws x_i² − x_j²
    phi = make_phi([{tuple(range(D)): 1}], D)
    found = laws.find_laws(phi, 2)
    assert len(found) == D - 1
    span = laws.SparseSpan()
    for law in found:
        span.add(law.poly)
    assert all(span.contains({(0, 0): 1, (j, j): -1}) for j in range(1, D))


@pytest.mark.parametrize("path", sorted((ROOT / "architectures").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_zoo_architecture_is_complete_at_degree_2(path):
    result = analysis.laws(path, degree=2)
    assert result.complete and result.explained_by_families
    phi_polys = [c.poly for c in analysis.load(path)[1].components]
    assert all(laws.is_law(law.poly, phi_polys) for law in result.laws)


def test_higher_degree_reports_products_not_new_generators(laws_of):
    # linear 2-2-2 at degree 4: the 3 Gram laws and their 6 pairwise products
    result = laws_of(mlp_yaml((2, 2, 2)), degree=4)
    assert len(result.laws) == 3 and result.products == 6 and result.complete


def test_incomplete_verdict_when_degree_is_too_low(laws_of):
    # deep linear at degree 1 finds nothing; the verdict says how many are missing
    result = laws_of(mlp_yaml((2, 3, 2)), degree=1)
    assert result.laws == [] and not result.complete and result.count == 6


def test_rational_reconstruction():
    p = laws.gf.PRIME
    for n, d in [(1, 1), (-3, 7), (22, 5), (0, 1)]:
        assert laws.rational_reconstruction(n * pow(d, -1, p) % p) == (n, d)
    assert laws.integer_row([0, (-2) % p, 4]) == [0, 1, -2]


def test_cli_json_latex_python():
    path = str(ROOT / "architectures/mlp_relu.yaml")
    data = json.loads(runner.invoke(app, ["laws", path, "--json"]).stdout)[0]
    assert data["schema"] == 1 and data["degree"] == 2 and data["complete"] is True
    assert data["independent"] == data["count"] == 5 and len(data["laws"]) == 5
    assert {"expr", "latex", "degree", "family"} <= set(data["laws"][0])
    python = runner.invoke(app, ["laws", path, "--python"]).stdout.splitlines()
    exprs = [sympy.sympify(line.split(" = ", 1)[1]) for line in python if line.startswith("h")]
    assert len(exprs) == 5 and all(e.is_polynomial() for e in exprs)
    latex = runner.invoke(app, ["laws", path, "--latex"]).stdout
    assert r"\begin{itemize}" in latex and r"\mathrm{linear1.bias}" in latex
    text = runner.invoke(app, ["laws", path]).stdout
    assert "5 laws = ‖linear1.weight[k]‖² + linear1.bias[k]² − ‖linear2.weight[:,k]‖²" in text
    assert "complete" in text


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.lists(st.integers(0, 5), max_size=3).map(lambda m: tuple(sorted(m))),
                       st.integers(-3, 3).filter(bool), min_size=1, max_size=12))
def test_the_direct_printer_writes_the_same_polynomial_as_sympy(poly):
    # large laws (an MNIST layer's rescaling law has 849 terms) are printed without sympy; read
    # back by sympy, the text must be the polynomial sympy itself builds
    from conslaw_cli.polynomial import _direct_text, to_sympy

    names = [f"x{i}" for i in range(6)]
    assert sympy.expand(sympy.sympify(_direct_text(poly, names, False)) - to_sympy(poly, names)) == 0

"""`conslaw laws`: the families of the papers, exact polynomials, the verdict (docs/method.md §4, §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conslaw_cli import analysis
from conslaw_cli.lawfinding import system as laws
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
    across_pieces = [law for law in result.laws if not laws.is_law(law.poly, phi_polys)]
    # a law that φ's pieces do not see (the mixer's joint stream rescaling) must be one of the
    # network itself: checked here independently, in float64 against the JAX network's fields
    for law in across_pieces:
        assert _orthogonal_to_the_network_fields(analysis.load_graph(path), law.poly), law.poly


def _orthogonal_to_the_network_fields(graph, poly, per_level: tuple[int, ...] = (20, 4)) -> bool:
    import numpy as np
    from conslaw_cli.training.lie_check import nested_bracket, _random_params
    from conslaw_cli.training.model import build_network

    net, rng = build_network(graph), np.random.default_rng(11)
    theta = net.init(rng)
    gradient = np.zeros(len(theta))
    for monomial, c in poly.items():
        for i, v in enumerate(monomial):
            gradient[v] += c * np.prod([theta[w] for j, w in enumerate(monomial) if j != i])
    for level, fields in enumerate(per_level):  # fields, then brackets of two
        for _ in range(fields):
            params = tuple(tuple(a[0] for a in _random_params(net, rng, 1)) for _ in range(level + 1))
            field = np.asarray(nested_bracket(net, theta, params))
            if abs(field @ gradient) > 1e-9 * np.linalg.norm(field) * np.linalg.norm(gradient):
                return False
    return True


def test_higher_degree_reports_products_not_new_generators(laws_of):
    # linear 2-2-2 at degree 4: the 3 Gram laws and their 6 pairwise products
    result = laws_of(mlp_yaml((2, 2, 2)), degree=4)
    assert len(result.laws) == 3 and result.products == 6 and result.complete


def test_incomplete_verdict_when_degree_is_too_low(laws_of):
    # deep linear at degree 1 finds nothing; the verdict says how many are missing
    result = laws_of(mlp_yaml((2, 3, 2)), degree=1)
    assert result.laws == () and not result.complete and result.count == 6


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
def test_the_printer_writes_the_polynomial_sympy_reads_back(poly):
    # laws are printed without sympy (one printer for laws of every size); read back by sympy, the
    # text must be the polynomial sympy builds from the same terms
    from conslaw_cli.render.polynomial import poly_text

    x = sympy.symbols("x0:6")
    built = sympy.Add(*(sympy.Integer(coef) * sympy.Mul(*(x[v] for v in mono)) for mono, coef in poly.items()))
    assert sympy.expand(sympy.sympify(poly_text(poly, [str(s) for s in x])) - built) == 0


def test_the_printer_orders_terms_by_degree_then_by_parameter():
    from conslaw_cli.render.polynomial import LatexNames, poly_text, symbol_latex

    names = [f"w[0,{j}]" for j in range(11)]  # parameter order: [0,2] comes before [0,10]
    poly = {(10, 10): 1, (2, 2): 1, (2, 10): -2, (0,): 3}
    assert poly_text(poly, names) == "w[0,2]**2 - 2*w[0,2]*w[0,10] + w[0,10]**2 + 3*w[0,0]"
    latex = poly_text(poly, LatexNames(names), True)
    assert latex == r"\mathrm{w[0,2]}^{2} - 2 \mathrm{w[0,2]} \mathrm{w[0,10]} + \mathrm{w[0,10]}^{2} + 3 \mathrm{w[0,0]}"
    # a tensor's entries get an index; only ASCII digits reach LaTeX as one
    assert symbol_latex("linear1.weight[0,10]") == r"\mathrm{linear1.weight}_{0,10}"
    assert symbol_latex("linear1.weight[\u0661]") == r"\mathrm{linear1.weight[[U+0661]]}"


def test_attention_interface_families(laws_of):
    # attention → attention without a skip: any invertible G on the 2 units between them (O₁ ↦ O₁G,
    # Q₂, K₂, V₂ ↦ ·G⁻ᵀ) is a symmetry, so O₁ᵀO₁ − (Q₂ᵀQ₂ + K₂ᵀK₂ + V₂ᵀV₂) gives 2·3/2 = 3 laws (the
    # Gram laws of Marcotte et al. 2023, Prop 4.1, across attention); with the per-layer Gram laws
    # (Marcotte et al. 2025, Thm 3.8: 1 + 1 per attention) they are the 7 laws the network's own
    # numerical trace finds (tests/test_lie_check.py)
    result = laws_of("input: {tokens: 2, dim: 2}\nlayers:\n  - attention: {head_dim: 1}\n  - attention: {head_dim: 1}\n")
    interface = "upper triangle of attention1.Oᵀ·attention1.O − (attention2.Qᵀ·attention2.Q + attention2.Kᵀ·attention2.K" \
                " + attention2.Vᵀ·attention2.V)"
    assert family_counts(result)[interface] == 3
    assert result.explained_by_families and result.complete and result.count == 7


def test_a_relu_before_attention_allows_only_the_diagonal(laws_of, tmp_path):
    # through a ReLU only positive diagonal rescalings are symmetries (Marcotte et al. 2023, Ex. 2.2):
    # the squared-norm laws hold, the off-diagonal entries of the Gram family are deliberately wrong
    # candidates that the exact check must reject
    from conslaw_cli.phi.compiler import VariableTable
    from conslaw_cli.lawfinding.families import interface_family

    text = "input: {tokens: 2, dim: 2}\nlayers:\n  - linear: {out: 2, bias: true}\n  - relu\n  - attention: {head_dim: 1}\n"
    result = laws_of(text)
    assert [n for name, n in family_counts(result).items() if name.startswith("diagonal of linear1")] == [2]
    path = tmp_path / "arch.yaml"
    graph, phi = analysis.load(path)
    linear, _, attention = graph.layers
    gram = interface_family(linear, attention, VariableTable(graph), diagonal=False)
    polys = [c.poly for c in phi.components]
    off_diagonal = gram.entries[1]  # (k, l) = (0, 1)
    assert [laws.is_law(e, polys) for e in gram.entries] == [True, False, True]
    shown, used, _ = laws.name_with_families([], [], [gram], polys, 2)
    assert used == [] and off_diagonal not in [law.poly for law in shown]


def test_products_of_three_laws_are_recognised(laws_of):
    # a softmax head alone: its 3 column sums s_1, s_2, s_3 (degree 1, Marcotte et al. 2025, Cor 2.8)
    # are all its laws (count 3), so the laws of degree ≤ 3 are the polynomials in them: 3 generators
    # and the 6 + 10 monomials of degree 2 and 3 in three independent linear forms, as products
    result = laws_of("input: 3\nlayers:\n  - softmax_head: {classes: 4}\n", degree=3)
    assert len(result.laws) == 3 and result.products == 6 + 10 and result.complete


def test_leftover_laws_are_reduced_against_the_families_and_each_other(tmp_path):
    # linear (bias) → ReLU → attention, named with the attention's own Gram families only: the two
    # laws left are the rescaling laws of the two ReLU neurons, ‖W_k‖² + b_k² − ‖Q[:,k]‖² − ‖K[:,k]‖²
    # − ‖V[:,k]‖² (Marcotte et al. 2023, Ex. 2.2: rescale neuron k, divide column k of Q, K, V).
    # As solved, one of them came out mixed with the Gram laws (9 terms); reduced, each is 6 terms.
    from conslaw_cli.phi.compiler import VariableTable
    from conslaw_cli.lawfinding.families import interface_family, candidate_families

    path = tmp_path / "arch.yaml"
    path.write_text("input: {tokens: 2, dim: 2}\nlayers:\n  - linear: {out: 2, bias: true}\n  - relu\n"
                    "  - attention: {head_dim: 1}\n")
    graph, phi = analysis.load(path)
    polys = [c.poly for c in phi.components]
    generators, products = laws.select_generators(laws.find_laws(phi, 2), 2)
    grams = [f for f in candidate_families(graph) if f.name.startswith("upper triangle of attention1")]
    shown, used, explained = laws.name_with_families(generators, products, grams, polys, 2)
    leftovers = [law.poly for law in shown if law.family is None]
    neurons = interface_family(graph.layers[0], graph.layers[2], VariableTable(graph), diagonal=True).entries
    assert sorted(map(_up_to_sign, leftovers)) == sorted(map(_up_to_sign, neurons))
    assert all(laws.is_law(p, polys) for p in leftovers) and not explained and len(used) == 2


def _up_to_sign(poly):
    first = poly[min(poly)]
    return sorted((m, c if first > 0 else -c) for m, c in poly.items())


def test_sparsest_keeps_the_span():
    # x² − y² and y² − z² printed; a leftover (x² − y²) + (z² − w²) becomes z² − w² (x, y, z, w = 0..3)
    printed = [{(0, 0): 1, (1, 1): -1}, {(1, 1): 1, (2, 2): -1}]
    (reduced,) = laws.sparsest(printed, [{(0, 0): 1, (1, 1): -1, (2, 2): 1, (3, 3): -1}])
    assert reduced in ({(2, 2): 1, (3, 3): -1}, {(0, 0): 1, (3, 3): -1})  # both two terms, same span
    span = laws.SparseSpan()
    for p in printed + [reduced]:
        assert span.add(p)
    assert span.contains({(0, 0): 1, (1, 1): -1, (2, 2): 1, (3, 3): -1})


def test_a_law_class_too_large_for_memory_is_refused_before_allocating(monkeypatch, tmp_path):
    # the dense matrix of one sign class is estimated from its equations and unknowns first
    from conslaw_cli.errors import TooLarge

    path = tmp_path / "arch.yaml"
    path.write_text(mlp_yaml((2, 3, 2)))
    monkeypatch.setattr(laws, "CLASS_MAX_BYTES", 1000)
    with pytest.raises(TooLarge, match="unknowns and .* equations: .* GB as a dense matrix mod p"):
        laws.find_laws(analysis.load(path)[1], 2)

"""The Lie-trace engine on hand-made φ's whose answers are known independently."""

from __future__ import annotations

import numpy as np
import pytest

from conslaw_cli.counting import expanded_phi as engine
from conslaw_cli.counting import gf
from conslaw_cli.phi.compiler import Component, Phi, Piece


def make_phi(polys: list[dict], num_vars: int) -> Phi:
    names = [f"x{i + 1}" for i in range(num_vars)]
    comps = [Component(p, "custom", (f"φ{i}",)) for i, p in enumerate(polys)]
    return Phi(names, comps, [Piece("custom", "custom", True, "test")])


@pytest.mark.parametrize("D", [2, 3, 5, 8])
def test_single_monomial_has_D_minus_1_laws(D):
    # SageMath reference, Part B: φ = x1⋯xD has the D-1 laws x_i² - x_j²
    phi = make_phi([{tuple(range(D)): 1}], D)
    result = engine.trace_dimension(phi, seed=3)
    assert D - result.dimension == D - 1


def test_uv_scalar_pair():
    # Marcotte et al. 2023, Ex. 2.3: φ = uv has the single law u² - v²
    result = engine.trace_dimension(make_phi([{(0, 1): 1}], 2))
    assert result.dims == [1, 1]


def test_brackets_can_fill_the_space():
    # φ = (x1, x1 x2... ) : ∇x1 = e1 and ∇(x1² x2)... the fields e1 and (2x1x2, x1²) bracket to
    # (2x2, 2x1), so V_1 = R² at a generic point and there is no law (independent hand computation)
    phi = make_phi([{(0,): 1}, {(0, 0, 1): 1}], 2)
    assert engine.trace_dimension(phi).dimension == 2


def test_disjoint_blocks_add_up_and_identical_blocks_are_computed_once():
    # two copies of uv and one of x1⋯x3: 1 + 1 + 1 trace dims (docs/method.md §2, blocks)
    phi = make_phi([{(0, 1): 1}, {(2, 3): 1}, {(4, 5, 6): 1}], 7)
    result = engine.trace_dimension(phi)
    assert result.num_blocks == 3 and result.num_classes == 2
    assert result.dimension == 3


def test_points_agree_and_error_bound_is_tiny():
    phi = make_phi([{(0, 1): 1, (2, 3): 1}, {(0, 3): 1}], 4)
    result = engine.trace_dimension(phi, seed=11)
    assert len(result.per_point_dims) == 2
    assert result.per_point_dims[0][-1] == result.per_point_dims[1][-1]
    assert 0 < result.error_bound < 1e-12


def test_disagreeing_points_fail_loudly(monkeypatch):
    calls = iter([engine.BlockTrace([1], 0.0), engine.BlockTrace([2], 0.0)])
    monkeypatch.setattr(engine, "block_trace", lambda *args, **kwargs: next(calls))
    with pytest.raises(engine.EngineDisagreement):
        engine.trace_dimension(make_phi([{(0, 1): 1}], 2))


def test_bracket_value_matches_hand_computation():
    # X = ∇(x0 x1) = (x1, x0), Y = ∇(x0² ) = (2 x0, 0): [X, Y] = DY X - DX Y = (2 x1, 0) - (0, 2 x0)
    block = engine.split_blocks(engine.flatten(make_phi([{(0, 1): 1}, {(0, 0): 1}], 2)))[0]
    fields = engine.BlockFields(block)
    theta = np.array([5, 7], dtype=np.uint64)
    x = theta[None, :, None]
    alpha_x = np.array([[1, 0]], dtype=np.uint64) if block.components == [0, 1] else np.array([[0, 1]], dtype=np.uint64)
    alpha_y = alpha_x[:, ::-1].copy()
    value = fields.bracket_value([alpha_x, alpha_y], x)[0, :, 0]
    expected = [(2 * 7) % gf.PRIME, (-2 * 5) % gf.PRIME]
    assert [int(v) for v in value] == expected


def test_modular_arithmetic_is_exact():
    from conslaw_cli.counting import kernels

    rng = gf.Residues(0)
    a = [*rng.residues(300), np.uint64(gf.PRIME - 1), np.uint64(0)]
    b = [*rng.residues(300), np.uint64(gf.PRIME - 1), np.uint64(gf.PRIME - 1)]
    assert [int(kernels.mulmod(x, y)) for x, y in zip(a, b)] == [int(x) * int(y) % gf.PRIME for x, y in zip(a, b)]
    assert [int(v) for v in gf.sub(np.array(a), np.array(b))] == [(int(x) - int(y)) % gf.PRIME for x, y in zip(a, b)]


def test_random_residues_are_reproducible_residues_spread_over_the_field():
    """Same key, same stream; another key, another stream; every value in [0, p), nonzero ones in
    [1, p); 2000 uniform draws put about 1000 in the lower half of [0, p) (binomial, sd 22)."""
    draws = gf.Residues(3, 1).residues((40, 50))
    assert draws.shape == (40, 50) and draws.dtype == np.uint64
    assert (draws == gf.Residues(3, 1).residues((40, 50))).all()
    assert not (draws == gf.Residues(3, 2).residues((40, 50))).any()
    assert int(draws.max()) < gf.PRIME
    assert 850 < int((draws < gf.PRIME // 2).sum()) < 1150
    assert gf.Residues(5).nonzero(10_000).all()


def test_random_residues_do_not_depend_on_how_they_are_drawn(monkeypatch):
    # drawn in chunks (one randbytes call of 2^25 words overflows a C int): the stream is the same
    whole = gf.Residues(6).residues((30, 7))
    monkeypatch.setattr(gf, "WORDS_PER_DRAW", 4)
    assert (gf.Residues(6).residues((30, 7)) == whole).all()


def test_small_rank_agrees_with_flint_on_matrices_of_known_rank():
    """numpy elimination (small matrices) against python-flint's nmod_mat.rank() on products B·C
    of random factors (rank r, with probability 1 − O(1/p)), zero rows, repeated rows and entries p − 1."""
    import flint

    from conslaw_cli.counting.lie import small_rank

    rng = gf.Residues(4)
    for rows, cols, r in [(1, 1, 1), (5, 7, 3), (7, 5, 5), (12, 12, 11), (20, 30, 20), (30, 20, 0)]:
        b, c = rng.residues((rows, r)).astype(object), rng.residues((r, cols)).astype(object)
        matrix = ((b @ c) % gf.PRIME if r else np.zeros((rows, cols), dtype=object)).astype(np.uint64)
        matrix[-1] = matrix[0]  # a repeated row
        expected = flint.nmod_mat(matrix.tolist(), gf.PRIME).rank()
        assert small_rank(matrix) == expected == min(r, rows - 1 if rows > 1 else r)
    full = np.full((3, 3), gf.PRIME - 1, dtype=np.uint64)
    full[1, 1] = 1
    assert small_rank(full) == flint.nmod_mat(full.tolist(), gf.PRIME).rank() == 2

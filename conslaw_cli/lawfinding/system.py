"""Polynomial conservation laws: an exact basis, generators, named families, a verdict.

Method (Marcotte et al. 2023, §2.4, docs/method.md §4): h = Σ c_α θ^α (degrees 1..k) is a law iff
L_i(h) = ∇h·∇φ_i ≡ 0 for every component φ_i: a linear system in the c_α, solved modulo p,
lifted to small rationals (rational reconstruction) and verified exactly over Z before it is
reported.  The system is split before it is solved:

* blocks of components with disjoint variables: a law of degree ≤ 2 is a sum of laws of single
  blocks and products of degree-1 laws of two blocks (the cross terms x_a y_b of a law give, for
  each y_b, a degree-1 law of x's block); blocks identical up to renaming are solved once;
* sign gradings: if flipping the signs of a set of variables maps every φ_i to ±φ_i, then L_i maps
  each parity class of monomials into one class, so the system splits by parity class (and by
  degree when every φ_i is homogeneous).
"""

from __future__ import annotations

import itertools
import math

import flint
import numpy as np

from conslaw_cli.counting import gf
from conslaw_cli.phi.compiler import Phi, Poly, poly_product
from conslaw_cli.counting.expanded_phi import Block, flatten, split_blocks
from conslaw_cli.errors import TooLarge
from conslaw_cli.counting.flint_bridge import to_nmod_mat
from conslaw_cli.results.laws import Family, Law, LawsResult  # noqa: F401  (the result types, re-exported)


# --- exact arithmetic helpers -----------------------------------------------------------------

def rational_reconstruction(a: int, p: int = gf.PRIME) -> tuple[int, int]:
    """n/d ≡ a (mod p) with |n|, d ≤ sqrt(p/2) (Wang's algorithm); raises if none exists."""
    bound = math.isqrt(p // 2)
    r0, r1, s0, s1 = p, a % p, 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1, s0, s1 = r1, r0 - q * r1, s1, s0 - q * s1
    if s1 == 0 or abs(s1) > bound:
        raise ArithmeticError("no small rational for this residue")
    return (r1, s1) if s1 > 0 else (-r1, -s1)


def integer_row(row: list[int]) -> list[int]:
    """A row mod p as the primitive integer vector with a positive first nonzero entry."""
    fractions = [rational_reconstruction(int(v)) if v else (0, 1) for v in row]
    lcm = math.lcm(*(d for _, d in fractions))
    values = [n * (lcm // d) for n, d in fractions]
    g = math.gcd(*values) or 1
    sign = 1 if next(v for v in values if v) > 0 else -1
    return [sign * v // g for v in values]


def derivative(poly: Poly, var: int) -> Poly:
    out: Poly = {}
    for mono, c in poly.items():
        e = mono.count(var)
        if e:
            rest = list(mono)
            rest.remove(var)
            out[tuple(rest)] = out.get(tuple(rest), 0) + e * c
    return out


def is_law(h: Poly, phi_polys: list[Poly]) -> bool:
    """Exact check over Z: ∇h·∇φ_i ≡ 0 for every component (docs/method.md §4)."""
    variables = {v for m in h for v in m}
    for poly in phi_polys:
        if not variables & {v for m in poly for v in m}:
            continue
        total: Poly = {}
        for v in variables:
            for m, c in poly_product(derivative(h, v), derivative(poly, v)).items():
                total[m] = total.get(m, 0) + c
        if any(total.values()):
            return False
    return True


class SparseSpan:
    """An echelon basis of polynomials mod p, grown one polynomial at a time (sparse elimination)."""

    def __init__(self):
        self.pivots: dict[tuple, dict[tuple, int]] = {}  # leading monomial -> row with leading coef 1

    def _reduce(self, poly: Poly) -> dict[tuple, int]:
        """`poly` minus its projection on the span: empty iff poly lies in the span."""
        row = {m: c % gf.PRIME for m, c in poly.items() if c % gf.PRIME}
        while row:
            lead = max(row)
            pivot = self.pivots.get(lead)
            if pivot is None:
                return row
            factor = row[lead]
            for m, c in pivot.items():
                value = (row.get(m, 0) - factor * c) % gf.PRIME
                if value:
                    row[m] = value
                else:
                    row.pop(m, None)
        return row

    def contains(self, poly: Poly) -> bool:
        return not self._reduce(poly)

    def add(self, poly: Poly) -> bool:
        """Add `poly`; True when it was independent of what was already there."""
        row = self._reduce(poly)
        if not row:
            return False
        lead = max(row)
        inverse = pow(row[lead], -1, gf.PRIME)
        self.pivots[lead] = {m: c * inverse % gf.PRIME for m, c in row.items()}
        return True


# --- solving one block ------------------------------------------------------------------------

def _parity_classes(block_polys: list[Poly], n: int, homogeneous: bool):
    """A function monomial -> class key (sign grading, and degree when φ is homogeneous)."""
    basis: dict[int, int] = {}  # pivot bit -> GF(2) vector (as int)

    def reduce(vec: int) -> int:
        """The canonical representative of vec modulo the span (bits that are no pivot are kept)."""
        kept = 0
        while vec:
            top = vec.bit_length() - 1
            if top in basis:
                vec ^= basis[top]
            else:
                kept |= 1 << top
                vec ^= 1 << top
        return kept

    def parity(mono) -> int:
        vec = 0
        for v in mono:
            vec ^= 1 << v
        return vec

    for poly in block_polys:
        monos = list(poly)
        for other in monos[1:]:
            vec = reduce(parity(monos[0]) ^ parity(other))
            if vec:
                basis[vec.bit_length() - 1] = vec
    return lambda mono: (reduce(parity(mono)), len(mono) if homogeneous else 0)


def _solve_block(block: Block, phi: Phi, degree: int) -> list[Poly]:
    """Laws of degree ≤ `degree` in the block's local variables (integer polynomials)."""
    n = block.num_vars
    local = {v: i for i, v in enumerate(block.variables)}
    polys = [{tuple(sorted(local[v] for v in m)): c for m, c in phi.components[i].poly.items()}
             for i in block.components]
    homogeneous = all(len({len(m) for m in p}) == 1 for p in polys)
    key_of = _parity_classes(polys, n, homogeneous)
    derivatives = [[(i, d) for i, p in enumerate(polys) if (d := derivative(p, j))] for j in range(n)]
    groups: dict[tuple, list[tuple]] = {}
    for d in range(degree, 0, -1):  # higher degrees first: RREF pivots then sit on the top degree
        for mono in itertools.combinations_with_replacement(range(n), d):
            groups.setdefault(key_of(mono), []).append(mono)
    laws = []
    for monomials in groups.values():
        laws.extend(_solve_group(monomials, derivatives))
    return laws


CLASS_MAX_BYTES = 4 * 2**30  # one sign class of the law system, solved as a dense matrix mod p


def _solve_group(monomials: list[tuple], derivatives) -> list[Poly]:
    """Kernel of h ↦ (L_i h)_i on the span of `monomials`, as integer polynomials (RREF basis)."""
    rows: dict[tuple, dict[int, int]] = {}
    for col, mono in enumerate(monomials):
        for j in set(mono):
            e = mono.count(j)
            rest = list(mono)
            rest.remove(j)
            for i, dphi in derivatives[j]:
                for m, c in dphi.items():
                    key = (i, tuple(sorted(rest + list(m))))
                    row = rows.setdefault(key, {})
                    row[col] = row.get(col, 0) + e * c
    ncols = len(monomials)
    needed = 2 * 8 * len(rows) * ncols  # the uint64 array and FLINT's copy of it
    if needed > CLASS_MAX_BYTES:
        raise TooLarge(f"one class of the law system has {ncols:,} unknowns and {len(rows):,} equations: "
                       f"{needed / 2**30:,.1f} GB as a dense matrix mod p (limit {CLASS_MAX_BYTES / 2**30:.0f} GB)",
                       "lower --degree (at degree 2 the named families often suffice)")
    dense = np.zeros((len(rows), ncols), dtype=np.uint64)
    for r, row in enumerate(rows.values()):
        for col, c in row.items():
            dense[r, col] = c % gf.PRIME
    matrix = to_nmod_mat(dense)
    del dense
    kernel, nullity = matrix.nullspace()
    if nullity == 0:
        return []
    columns = kernel.transpose().tolist()[:nullity]
    reduced, rank = flint.nmod_mat(columns, gf.PRIME).rref()
    laws = []
    for row in reduced.tolist()[:rank]:
        values = integer_row([int(v) for v in row])
        laws.append({monomials[c]: v for c, v in enumerate(values) if v})
    return laws


# --- the whole architecture -------------------------------------------------------------------

from conslaw_cli.limits import DEFAULT_MAX_UNKNOWNS  # noqa: E402


def find_laws(phi: Phi, degree: int, max_unknowns: int = DEFAULT_MAX_UNKNOWNS) -> list[Law]:
    """A basis of the laws of degree ≤ `degree` inside single blocks, each verified over Z."""
    blocks = split_blocks(flatten(phi)) if phi.components else []
    kinds = {b.signature: b.num_vars for b in blocks}
    unknowns = sum(math.comb(n + degree, degree) - 1 for n in kinds.values())
    if unknowns > max_unknowns:
        raise TooLarge(f"laws of degree <= {degree} here have {unknowns:,} unknown coefficients "
                       f"(limit {max_unknowns:,})", "lower --degree, or raise the limit with --max-unknowns N")
    laws: list[Law] = []
    solved: dict[tuple, list[Poly]] = {}
    for block in blocks:
        if block.signature not in solved:
            solved[block.signature] = _solve_block(block, phi, degree)
        for local_law in solved[block.signature]:
            law = {tuple(sorted(block.variables[v] for v in m)): c for m, c in local_law.items()}
            laws.append(Law(law, max(len(m) for m in law)))
    used = {v for b in blocks for v in b.variables}
    laws.extend(Law({(v,): 1}, 1, "unused parameter") for v in range(len(phi.variables)) if v not in used)
    polys = [c.poly for c in phi.components]
    for law in laws:
        if not is_law(law.poly, polys):
            raise AssertionError(f"internal error: a computed law fails the exact check: {law.poly}")
    return laws


def products_of_lower_degree(laws: list[Law], degree: int) -> list[Poly]:
    """Products of two or more laws whose degrees add up to at most `degree` (docs/method.md §4):
    every multiset of the given laws (a basis of the lower-degree laws spans all their products)."""
    ordered = sorted(laws, key=lambda law: law.degree)
    out: list[Poly] = []

    def extend(start: int, product: Poly | None, total: int) -> None:
        for i in range(start, len(ordered)):
            if total + ordered[i].degree > degree:
                break
            grown = ordered[i].poly if product is None else poly_product(product, ordered[i].poly)
            if product is not None:
                out.append(grown)
            extend(i, grown, total + ordered[i].degree)

    extend(0, None, 0)
    return out


def functional_rank(laws: list[Law], num_vars: int, seed: int = 0) -> int:
    """Number of functionally independent laws: rank of their gradients at a random point, mod p."""
    if not laws:
        return 0
    point = gf.Residues(seed, 99).residues(num_vars).tolist()
    rows = []
    for law in laws:
        row = [0] * num_vars
        for v, value in gf.poly_gradient(law.poly, point).items():
            row[v] = value
        rows.append(row)
    return flint.nmod_mat(rows, gf.PRIME).rank()


def select_generators(laws: list[Law], degree: int) -> tuple[list[Law], list[Poly]]:
    """Split a law basis into new generators and the products of lower-degree laws (docs/method.md §4)."""
    products = products_of_lower_degree([l for l in laws if l.degree < degree], degree)
    span = SparseSpan()
    independent_products = [p for p in products if span.add(p)]
    generators = [law for law in sorted(laws, key=lambda l: l.degree) if span.add(law.poly)]
    return generators, independent_products


def name_with_families(generators: list[Law], products: list[Poly], families: list[Family],
                       phi_polys: list[Poly], degree: int) -> tuple[list[Law], list[tuple[Family, int]], bool]:
    """Present the law space through the recognised families when they span it (checked exactly).

    Returns the laws to print (family entries first, then generators outside the families), the
    families used with their number of independent laws, and whether the families explain all."""
    span, law_space = SparseSpan(), SparseSpan()
    for p in products:
        span.add(p)
        law_space.add(p)
    for g in generators:
        law_space.add(g.poly)
    chosen: list[Law] = []
    used: list[tuple[Family, int]] = []
    for fam in families:
        too_high = any(len(m) > degree for e in fam.entries for m in e)
        proved = fam.proved_by and all(law_space.contains(e) for e in fam.entries)  # given to the solver's basis
        if not fam.entries or too_high or not (proved or all(is_law(e, phi_polys) for e in fam.entries)):
            continue
        if not all(law_space.contains(e) for e in fam.entries):
            raise AssertionError(f"internal error: the family {fam.name} holds laws the solver missed")
        picked = [Law(e, max(len(m) for m in e), fam.name) for e in fam.entries if span.add(e)]
        chosen.extend(picked)
        if picked:
            used.append((fam, len(picked)))
    leftovers = [g for g in generators if span.add(g.poly)]
    family_laws = [law.poly for law in chosen]
    sparse = sparsest(family_laws, [g.poly for g in leftovers])
    leftovers = [Law(poly, max(len(m) for m in poly), g.family) for poly, g in zip(sparse, leftovers)]
    return chosen + leftovers, used, not leftovers and bool(used)


SPARSIFY_MAX_WORK = 2_000_000  # term comparisons; beyond, the laws are printed as solved


def sparsest(printed: list[Poly], leftovers: list[Poly]) -> list[Poly]:
    """The leftover laws made sparser, greedily: g ← a·g − b·h, with h a printed law or another
    leftover and a, b integers that cancel a monomial they share, while the number of terms of g
    drops. Each step is invertible (a ≠ 0), so the laws still span the same space with the printed
    ones, and integer combinations of laws are laws: a leftover that was a family law plus a new
    one prints as the new one. A heuristic: the sparsest basis of a space is a hard problem."""
    current = [dict(g) for g in leftovers]
    sizes = sum(len(p) for p in printed) + sum(len(g) for g in current)
    if len(current) * sizes > SPARSIFY_MAX_WORK:
        return current
    improved = True
    while improved:
        improved = False
        for i in range(len(current)):
            for h in printed + current[:i] + current[i + 1:]:
                for m in set(current[i]) & set(h):
                    candidate = _cancel(current[i], h, m)
                    if len(candidate) < len(current[i]):
                        current[i], improved = candidate, True
                        break
    return current


def _cancel(g: Poly, h: Poly, monomial: tuple) -> Poly:
    """h[m]·g − g[m]·h (m cancels), as a primitive integer polynomial with a positive first term."""
    a, b = h[monomial], g[monomial]
    out = {m: a * g.get(m, 0) - b * h.get(m, 0) for m in set(g) | set(h)}
    out = {m: c for m, c in sorted(out.items()) if c}
    divisor = math.gcd(*out.values()) if out else 1
    sign = 1 if not out or next(iter(out.values())) > 0 else -1
    return {m: sign * c // divisor for m, c in out.items()}

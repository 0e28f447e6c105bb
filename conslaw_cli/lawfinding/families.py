"""The law families the papers name (docs/method.md §5), built from the graph as candidate polynomials.

They are only candidates: `laws.name_with_families` checks exactly that every entry is a law and
uses a family only for the part of the law space it spans."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from conslaw_cli.phi.compiler import Poly, VariableTable, poly_sum
from conslaw_cli.graph import GATED, HOMOGENEOUS, NORMS, POOLING, POWER, Graph, Layer, walk_layers
from conslaw_cli.results.laws import Family
from conslaw_cli.sanitize import latex_mathrm as _tex

PASS_THROUGH = ("identity", "flatten")



def _ids(v: VariableTable, tensor: str) -> np.ndarray:
    """The variable index of every entry of `tensor`, as an array of its shape (families index
    whole rows and columns: one array operation instead of a lookup per entry)."""
    offset, shape = v.offsets[tensor]
    return np.arange(offset, offset + math.prod(shape)).reshape(shape)


def _square_sum(ids: np.ndarray, sign: int = 1) -> Poly:
    """Σ sign · x_i² over the (distinct) variables `ids`."""
    return {(i, i): sign for i in ids.ravel().tolist()}


def _inner(first: np.ndarray, second: np.ndarray, sign: int = 1) -> Poly:
    """Σ_i sign · first[i] · second[i] over variable indices (each pair a distinct monomial)."""
    return {(i, j) if i <= j else (j, i): sign for i, j in zip(first.ravel().tolist(), second.ravel().tolist())}


def _outgoing(b: Layer, weights: np.ndarray, k: int, flattened_positions: int) -> np.ndarray:
    """b's weights that read unit (or channel) k of the layer before: a column of a linear layer, a
    conv's input channel, or the columns of channel k's positions after flatten."""
    if flattened_positions:
        return weights[:, k * flattened_positions:(k + 1) * flattened_positions]
    return weights[:, k]


def _columns_text(unit: str, flattened_positions: int) -> str:
    """The columns that read unit (or channel) `unit`, as `_outgoing` takes them."""
    if flattened_positions > 1:
        return f"[:,{unit}·{flattened_positions}:({unit}+1)·{flattened_positions}]"
    return f"[:,{unit}]"


def _rescaling(a: Layer, b: Layer, v: VariableTable, flattened_positions: int = 0, power: int = 1) -> Family:
    """‖incoming‖² + bias² − ‖outgoing‖² per homogeneous neuron or conv channel (Marcotte et al. 2023, Ex. 2.2,
    Marcotte et al. 2025, Thm 3.6); a conv channel read through `flatten` is the set of its positions.

    With a power activation between (homogeneous of degree p: scaling the incoming weights and bias by
    λ scales the outgoing ones by λ⁻ᵖ), ‖incoming‖² + bias² − p‖outgoing‖² (Noether's theorem for that
    one-parameter symmetry; Zhao et al. 2023, Ex. 5.3; Głuch and Urbanke 2021, §4)."""
    units = a.params["weight"][0]
    bias = "bias" in a.params
    incoming, outgoing = _ids(v, f"{a.name}.weight"), _ids(v, f"{b.name}.weight")
    biases = _ids(v, f"{a.name}.bias") if bias else None
    entries = []
    for k in range(units):
        parts = [_square_sum(incoming[k]), _square_sum(_outgoing(b, outgoing, k, flattened_positions), -power)]
        if bias:
            parts.append(_square_sum(biases[k]))
        entries.append(poly_sum(parts))
    unit = "c" if a.kind == "conv" else "k"
    wa, wb, ba = f"{a.name}.weight", f"{b.name}.weight", f"{a.name}.bias"
    read = _columns_text(unit, flattened_positions)
    factor = f"{power}·" if power > 1 else ""
    where = " (per hidden channel" if a.kind == "conv" else " (per hidden neuron"
    name = (f"‖{wa}[{unit}]‖² " + (f"+ {ba}[{unit}]² " if bias else "") + f"− {factor}‖{wb}{read}‖², "
            f"{unit} = 0…{units - 1}" + where + (f"; the activation is homogeneous of degree {power})" if factor else ")"))
    latex = (rf"\|{_tex(wa)}_{{{unit}}}\|^2" + (rf" + {_tex(ba)}_{{{unit}}}^2" if bias else "")
             + rf" - {power if power > 1 else ''}\|{_tex(wb)}_{{:,{unit}}}\|^2,\ {unit} = 0,\dots,{units - 1}")
    return Family(name, latex, entries)


def _attention(layer: Layer, v: VariableTable) -> list[Family]:
    """Q_hQ_hᵀ − K_hK_hᵀ and V_hV_hᵀ − O_hO_hᵀ per head (Marcotte et al. 2025, Thm 3.8, Cor 3.10)."""
    heads, head_dim = layer.options["heads"], layer.options["head_dim"]
    out = []
    for left, right in (("Q", "K"), ("V", "O")):
        entries = []
        left_ids, right_ids = _ids(v, f"{layer.name}.{left}"), _ids(v, f"{layer.name}.{right}")
        for h in range(heads):
            rows = range(h * head_dim, (h + 1) * head_dim)
            for a, b in itertools.combinations_with_replacement(rows, 2):
                entries.append(poly_sum((_inner(left_ids[a], left_ids[b]), _inner(right_ids[a], right_ids[b], -1))))
        l, r = f"{layer.name}.{left}", f"{layer.name}.{right}"
        triangle = head_dim * (head_dim + 1) // 2
        per_head = f", per head: {triangle} per head × {heads} heads" if heads > 1 else ""
        h = "_h" if heads > 1 else ""  # head h: rows h·head_dim … (h + 1)·head_dim − 1 of the matrix
        out.append(Family(f"upper triangle of {l}_h·{l}_hᵀ − {r}_h·{r}_hᵀ{per_head}" if heads > 1 else
                          f"upper triangle of {l}·{l}ᵀ − {r}·{r}ᵀ",
                          rf"{_tex(l)}{h}\,{_tex(l)}{h}^\top - {_tex(r)}{h}\,{_tex(r)}{h}^\top\ \text{{(upper triangle{per_head})}}",
                          entries))
    return out


def _writers(layer: Layer, v: VariableTable) -> np.ndarray:
    """Row k: the weights that write unit k of `layer`'s output, in the same order for every k: a
    linear layer's row k and bias k, or column k of an attention's O (every head)."""
    if layer.kind == "attention":
        return _ids(v, f"{layer.name}.O").T
    weights = _ids(v, f"{layer.name}.weight")
    return np.hstack([weights, _ids(v, f"{layer.name}.bias")[:, None]]) if "bias" in layer.params else weights


def _readers(layer: Layer, v: VariableTable, tokens: int = 0) -> np.ndarray:
    """Row k: the weights that read unit k of the layer before `layer`: column k of a linear layer
    (after `flatten`, the columns of unit k in each of `tokens` tokens), or column k of Q, K and V."""
    if layer.kind == "attention":
        return np.hstack([_ids(v, f"{layer.name}.{t}").T for t in "QKV"])
    weights = _ids(v, f"{layer.name}.weight")  # (outputs, tokens · units) after flatten
    if not tokens:
        return weights.T
    outputs, columns = weights.shape
    return weights.reshape(outputs, tokens, columns // tokens).transpose(2, 0, 1).reshape(columns // tokens, -1)


def interface_family(a: Layer, b: Layer, v: VariableTable, diagonal: bool, tokens: int = 0) -> Family:
    """Laws of the symmetry of the units between a and b (linear layers or attention): with nothing
    between, any invertible G on the units (a's writers ↦ G·, b's readers ↦ ·G⁻¹) leaves the network
    unchanged, so ⟨writers_k, writers_l⟩ − ⟨readers_k, readers_l⟩ are laws: the Gram laws
    W_aW_aᵀ + b_ab_aᵀ − W_bᵀW_b of Marcotte et al. 2023, Prop 4.1 (Zhao et al. 2023, App.), and the
    same across an attention's Q, K, V or O; through a homogeneous activation only positive
    diagonal G, so only k = l (Ex. 2.2 of the same paper)."""
    units = a.out_shape[-1]
    pairs = [(k, k) for k in range(units)] if diagonal else list(itertools.combinations_with_replacement(range(units), 2))
    writers, readers = _writers(a, v), _readers(b, v, tokens)
    entries = [poly_sum((_inner(writers[k], writers[l]), _inner(readers[k], readers[l], -1))) for k, l in pairs]
    writes, writes_tex = _gram_text(a, "writes")
    reads, reads_tex = _gram_text(b, "reads", tokens)
    part = "diagonal" if diagonal else "upper triangle"
    name = f"{part} of {writes} − {reads}" + (" (per unit: the activation between allows only rescaling)" if diagonal else "")
    latex = rf"{writes_tex} - {reads_tex}\ \text{{({part})}}"
    return Family(name, latex, entries)


def _gram_text(layer: Layer, role: str, tokens: int = 0) -> tuple[str, str]:
    """The Gram matrix of the weights that write (or read) the units, as text and LaTeX."""
    if layer.kind == "attention" and role == "writes":
        o = f"{layer.name}.O"
        return f"{o}ᵀ·{o}", rf"{_tex(o)}^\top {_tex(o)}"
    if layer.kind == "attention":
        names = [f"{layer.name}.{t}" for t in "QKV"]
        return ("(" + " + ".join(f"{n}ᵀ·{n}" for n in names) + ")",
                "(" + " + ".join(rf"{_tex(n)}^\top {_tex(n)}" for n in names) + ")")
    w = f"{layer.name}.weight"
    if role == "writes":
        b = f"{layer.name}.bias"
        bias = "bias" in layer.params
        return (f"{w}·{w}ᵀ" + (f" + {b}·{b}ᵀ" if bias else ""),
                rf"{_tex(w)}\,{_tex(w)}^\top" + (rf" + {_tex(b)}\,{_tex(b)}^\top" if bias else ""))
    if tokens:
        return (f"Σ_t {w}_tᵀ·{w}_t ({w}_t: the columns that read token t)",
                rf"\textstyle\sum_t {_tex(w)}_t^\top {_tex(w)}_t")
    return f"{w}ᵀ·{w}", rf"{_tex(w)}^\top {_tex(w)}"


def _column_sums(layer: Layer, v: VariableTable) -> Family:
    """Σ_c Θ[c, j] for a softmax head (Marcotte et al. 2025, Prop 3.11, Cor 2.8)."""
    features = layer.params["weight"][1]
    w = f"{layer.name}.weight"
    entries = [{(entry,): 1 for entry in column} for column in _ids(v, w).T.tolist()]
    return Family(f"column sums Σ_c {w}[c,j], j = 0…{features - 1}",
                  rf"\textstyle\sum_c {_tex(w)}_{{c,j}},\ j = 0,\dots,{features - 1}", entries)


_LAST_BUILT: dict = {}  # {"graph": graph, attention flag: its families}: `count` and then `laws` need them


def candidate_families(graph: Graph, attention: bool = True) -> list[Family]:
    """Every family the papers name that the layer sequence makes possible (built once for the
    graph asked last; the list is shared, callers do not change it). `attention=False` leaves out
    the attention Gram families (head_dim² laws of 2·dim terms per head: 10⁹ terms in a GPT-2
    stack), which the count never needs: an attention pair's dimension is a theorem's."""
    if _LAST_BUILT.get("graph") is not graph:
        _LAST_BUILT.clear()
        _LAST_BUILT["graph"] = graph
    if attention not in _LAST_BUILT:
        _LAST_BUILT[attention] = _build_families(graph, attention)
    return _LAST_BUILT[attention]


def phi_families(graph: Graph, attention: bool = True) -> list[Family]:
    """The candidate families that may be laws of φ (those proved by a theorem for the network
    are not: φ's paths end where their symmetry acts)."""
    return [family for family in candidate_families(graph, attention) if not family.proved_by]


def _build_families(graph: Graph, attention: bool = True) -> list[Family]:
    variables = VariableTable(graph)
    families: list[Family] = []

    def walk(layers: list[Layer]):
        previous, between = None, []
        for layer in layers:
            walk(layer.body)
            if layer.kind == "attention" and attention:
                families.extend(_attention(layer, variables))
            if layer.kind == "softmax_head":
                families.append(_column_sums(layer, variables))
            if layer.kind in ("linear", "conv", "softmax_head", "attention", GATED):
                if previous is not None:  # a gated unit's projection reads like a linear layer
                    _pair(previous, layer, between)
                previous, between = (None if layer.kind == GATED else layer), []
            elif layer.kind in PASS_THROUGH + HOMOGENEOUS + POOLING + (POWER,):
                between.append(layer)
            else:
                previous, between = None, []

    def _pair(a: Layer, b: Layer, between_layers: list[Layer]):
        # pooling commutes with a positive per-channel scaling; a max pool is itself positively
        # homogeneous, so a channel rescaling passes it even without an activation
        between = [l.kind for l in between_layers]
        powers = [l.options["p"] for l in between_layers if l.kind == POWER]
        if powers:  # σ(λx) = λᵖσ(x): the outgoing weights scale by λ⁻ᵖ
            if len(powers) == 1 and not any(k in HOMOGENEOUS for k in between) and "attention" not in (a.kind, b.kind):
                _rescaled(a, b, between, powers[0])
            return
        homogeneous = [k for k in between if k in HOMOGENEOUS] or [k for k in between if k == "max_pool"][:1]
        flattened = "flatten" in between or (a.kind == "conv" and "global_avg_pool" in between)
        if "attention" in (a.kind, b.kind) and any(k in POOLING for k in between):
            return
        if "attention" in (a.kind, b.kind):
            if a.kind in ("linear", "attention") and b.kind in ("linear", "softmax_head", "attention") \
                    and len(homogeneous) <= 1 and not (flattened and (b.kind == "attention" or homogeneous)):
                tokens = a.out_shape[1] if flattened else 0
                families.append(interface_family(a, b, variables, diagonal=bool(homogeneous), tokens=tokens))
        elif a.kind == "linear" and b.kind in ("linear", GATED) and not flattened and not homogeneous:
            families.append(interface_family(a, b, variables, diagonal=False))
        elif len(homogeneous) == 1:
            _rescaled(a, b, between)

    def _rescaled(a: Layer, b: Layer, between: list[str], power: int = 1):
        """The per-unit rescaling family between a and b, when their kinds allow one."""
        flattened = "flatten" in between or (a.kind == "conv" and "global_avg_pool" in between)
        if a.kind == "linear" and b.kind in ("linear", "softmax_head", GATED) and not flattened or a.kind == b.kind == "conv":
            families.append(_rescaling(a, b, variables, power=power))
        elif a.kind == "conv" and b.kind in ("linear", "softmax_head", GATED) and flattened:
            positions = b.params["weight"][1] // a.out_shape[1]  # per channel, after any pooling
            families.append(_rescaling(a, b, variables, flattened_positions=positions, power=power))

    walk(graph.layers)
    families.extend(normalization_families(graph, variables))
    families.extend(gated_unit_families(graph, variables))
    families.extend(_streams(graph.layers, variables))
    families.extend(_joint_streams(graph.layers, variables))
    return families


JOINTLY_HOMOGENEOUS = PASS_THROUGH + POOLING + ("transpose",) + HOMOGENEOUS


def _jointly_homogeneous_block(layer: Layer) -> bool:
    """A residual block with an identity skip whose body is positively homogeneous of degree 1 in
    its input once its biases are scaled with it (weighted layers, ReLU-like activations, pools
    and reshapings)."""
    return layer.kind == "residual" and layer.shortcut is None and bool(_weighted(layer.body)) and \
        all(l.kind in ("linear", "conv") or l.kind in JOINTLY_HOMOGENEOUS for l in layer.body)


def _joint_streams(layers: list[Layer], v: VariableTable) -> list[Family]:
    """The joint rescaling of a residual stream: in `a, (blocks and homogeneous layers)…, b`,
    scaling a's weights and bias and every bias inside the blocks by λ > 0 and b's weights by 1/λ
    leaves the network unchanged (each block's body is then homogeneous of degree 1 in the scaled
    stream, x + body(x) too), so ‖a‖² + Σ‖block biases‖² − ‖b.weight‖² is a law (Noether's theorem
    for a one-parameter scaling; the per-unit stream laws of `_streams` need no bias in the blocks
    and no mixing of units, e.g. the token mixing of a transpose, and imply this one when they
    hold). Only streams through a block with a bias or a transpose are listed (the others add
    nothing to the per-unit laws)."""
    out = []
    for k, a in enumerate(layers):
        if a.kind not in ("linear", "conv"):
            continue
        blocks = []
        for b in layers[k + 1:]:
            if _jointly_homogeneous_block(b):
                blocks.append(b)
            elif b.kind in JOINTLY_HOMOGENEOUS:
                continue
            elif b.kind in ("linear", "conv", "softmax_head") and any(_adds_to_streams(block) for block in blocks):
                out.append(_joint_family(a, blocks, b, v))
                break
            else:
                break
    return out


def _adds_to_streams(block: Layer) -> bool:
    """A block that breaks the per-unit stream laws but keeps the joint one."""
    return any(l.kind == "transpose" or "bias" in l.params for l in walk_layers(block.body))


def _joint_family(a: Layer, blocks: list[Layer], b: Layer, v: VariableTable) -> Family:
    scaled = [f"{a.name}.{p}" for p in ("weight", "bias") if p in a.params]
    scaled += [f"{l.name}.bias" for block in blocks for l in walk_layers(block.body) if "bias" in l.params]
    entry = poly_sum([_square_sum(_ids(v, t)) for t in scaled] + [_square_sum(_ids(v, f"{b.name}.weight"), -1)])
    plural = "s" if len(blocks) != 1 else ""
    name = (" + ".join(f"‖{t}‖²" for t in scaled) + f" − ‖{b.name}.weight‖² (the whole stream scaled through "
            f"{len(blocks)} residual block{plural}, their biases with it)")
    latex = " + ".join(rf"\|{_tex(t)}\|^2" for t in scaled) + rf" - \|{_tex(b.name + '.weight')}\|^2"
    return Family(name, latex, [entry])


NOETHER = "Noether's theorem"


def normalization_families(graph: Graph, v: VariableTable | None = None) -> list[Family]:
    """Laws of the invariances of a normalization, for the linear layer a that feeds it directly
    (identity and dropout between allowed), proved by Noether's theorem (laws of the network, not
    of φ, whose paths end at the norm).

    rms_norm and layer_norm are scale invariant, N(λh) = N(h) for λ > 0: scaling a's weights and
    bias together leaves the network unchanged, so ‖W_a‖² + ‖b_a‖² is conserved (the generator is
    the identity on a's parameters). layer_norm also subtracts the mean over the features, so
    adding a common vector to every row of W_a (a common number to every entry of b_a) changes
    nothing: a translation symmetry θ ↦ θ + t·u, with ⟨u, ∇L⟩ = 0, so ⟨u, θ⟩ is conserved: the
    column sums Σ_r W_a[r, j] and Σ_r b_a[r] (degree 1). With a bias-free a, in features."""
    v = v or VariableTable(graph)
    out = []

    def walk(layers: list[Layer]):
        writer, norm, activations = None, None, 0
        for layer in layers:
            walk(layer.body)
            if layer.kind in NORMS and writer is not None:
                out.extend(_normalized(writer, layer, v))
            if norm is not None and layer.kind in ("linear", "softmax_head", "attention", GATED) and activations <= 1:
                out.append(_norm_rescaling(norm, layer, v))
            writer = layer if layer.kind == "linear" else writer if layer.kind == "identity" else None
            if layer.kind in NORMS and layer.params:
                norm, activations = layer, 0
            elif layer.kind in HOMOGENEOUS:
                activations += 1
            elif layer.kind != "identity":
                norm = None

    walk(graph.layers)
    return out


def _normalized(a: Layer, norm: Layer, v: VariableTable) -> list[Family]:
    tensors = [f"{a.name}.{p}" for p in ("weight", "bias") if p in a.params]
    scale = Family(" + ".join(f"‖{t}‖²" for t in tensors) + f" ({norm.name} is scale invariant: {a.name} scaled "
                   "as a whole changes nothing)", " + ".join(rf"\|{_tex(t)}\|^2" for t in tensors),
                   [poly_sum([_square_sum(_ids(v, t)) for t in tensors])], proved_by=NOETHER)
    if norm.kind != "layer_norm":
        return [scale]
    weights = _ids(v, f"{a.name}.weight")
    entries = [{(i,): 1 for i in column} for column in weights.T.tolist()]
    w = f"{a.name}.weight"
    name = f"column sums Σ_r {w}[r,j], j = 0…{weights.shape[1] - 1}"
    latex = rf"\textstyle\sum_r {_tex(w)}_{{r,j}},\ j = 0,\dots,{weights.shape[1] - 1}"
    if "bias" in a.params:
        entries.append({(i,): 1 for i in _ids(v, f"{a.name}.bias").tolist()})
        name += f", and Σ_r {a.name}.bias[r]"
        latex += rf",\ \textstyle\sum_r {_tex(a.name + '.bias')}_r"
    name += f" ({norm.name} subtracts the mean: a common shift of {a.name}'s rows changes nothing)"
    return [scale, Family(name, latex, entries, proved_by=NOETHER)]


def _norm_rescaling(norm: Layer, b: Layer, v: VariableTable) -> Family:
    """γ_k² + β_k² − ‖b's columns k‖² per feature k: scaling feature k of the norm's output (γ_k and
    β_k) by λ > 0 and the weights that read it (a linear layer's column k, or column k of an
    attention's Q, K and V) by 1/λ changes nothing, also through a ReLU-like activation (Noether)."""
    gamma = _ids(v, f"{norm.name}.weight")
    beta = _ids(v, f"{norm.name}.bias") if "bias" in norm.params else None
    readers = _readers(b, v)
    entries = [poly_sum([_square_sum(gamma[k:k + 1]), _square_sum(readers[k], -1)]
                        + ([_square_sum(beta[k:k + 1])] if beta is not None else [])) for k in range(len(gamma))]
    g, bias = f"{norm.name}.weight", f"{norm.name}.bias"
    reads = " − ".join(f"‖{b.name}.{t}[:,k]‖²" for t in ("QKV" if b.kind == "attention" else ("weight",)))
    name = (f"{g}[k]²" + (f" + {bias}[k]²" if beta is not None else "") + f" − {reads}, k = 0…{len(gamma) - 1} "
            f"(per feature: {norm.name}'s scale against the weights that read it)")
    latex = (rf"{_tex(g)}_k^2" + (rf" + {_tex(bias)}_k^2" if beta is not None else "") + " - "
             + " - ".join(rf"\|{_tex(b.name + '.' + t)}_{{:,k}}\|^2" for t in ("QKV" if b.kind == "attention" else ("weight",)))
             + rf",\ k = 0,\dots,{len(gamma) - 1}")
    # with a linear reader the law is φ's too (the segment γ ⊙ n + β → W_b); Q, K, V are another piece
    return Family(name, latex, entries, proved_by=NOETHER if b.kind == "attention" else "")


HOMOGENEOUS_GATES = ("none", "relu")  # σ(λz) = λσ(z) for λ > 0: the gates rescale too


def gated_unit_families(graph: Graph, v: VariableTable | None = None) -> list[Family]:
    """Rescaling laws of a gated linear unit's products, against the layer b that reads them (a
    linear layer, a head, or Q, K, V of an attention, identity and dropout between allowed),
    proved by Noether's theorem (laws of the network; φ's paths end at the products).

    The product a_k σ(b_k) is linear in the value a_k: scaling row k of the values' weights and
    bias by λ > 0 and column k of b's weights by 1/λ changes nothing, so ‖W[k]‖² + c_k² −
    ‖W_b[:,k]‖² is conserved (the SwiGLU law of Tran et al. 2026; with a bias-free unit, no c).
    With a positively homogeneous gate (relu: ReGLU, none: the bilinear unit) the gate's row m + k
    rescales against column k alike, a second law per unit."""
    v = v or VariableTable(graph)
    out = []

    def walk(layers: list[Layer]):
        unit = None
        for layer in layers:
            walk(layer.body)
            if unit is not None and layer.kind in ("linear", "softmax_head", "attention"):
                out.append(_gated_rescaling(unit, layer, v, "values"))
                if unit.options["gate"] in HOMOGENEOUS_GATES:
                    out.append(_gated_rescaling(unit, layer, v, "gates"))
            if layer.kind == GATED:
                unit = layer
            elif layer.kind != "identity":
                unit = None

    walk(graph.layers)
    return out


def _gated_rescaling(unit: Layer, b: Layer, v: VariableTable, half: str) -> Family:
    """‖W[r]‖² + c_r² − ‖b's columns k‖² per product k, r = k (values) or m + k (gates)."""
    m = unit.out_shape[-1]
    shift = m if half == "gates" else 0
    rows = _writers(unit, v)[shift:shift + m]
    readers = _readers(b, v)
    entries = [poly_sum([_square_sum(rows[k]), _square_sum(readers[k], -1)]) for k in range(m)]
    w, c = f"{unit.name}.weight", f"{unit.name}.bias"
    row = f"k + {m}" if shift else "k"
    reads = " − ".join(f"‖{b.name}.{t}[:,k]‖²" for t in ("QKV" if b.kind == "attention" else ("weight",)))
    bias = f" + {c}[{row}]²" if "bias" in unit.params else ""
    gate = unit.options["gate"]
    why = ("the product is linear in its value" if half == "values" else
           f"the gate {'is the identity' if gate == 'none' else 'relu is positively homogeneous'}")
    name = (f"‖{w}[{row}]‖²{bias} − {reads}, k = 0…{m - 1} (per product: {unit.name}'s {half} against the "
            f"weights that read it; {why})")
    latex_row = f"k+{m}" if shift else "k"
    latex = (rf"\|{_tex(w)}_{{{latex_row}}}\|^2" + (rf" + {_tex(c)}_{{{latex_row}}}^2" if bias else "") + " - "
             + " - ".join(rf"\|{_tex(b.name + '.' + t)}_{{:,k}}\|^2" for t in ("QKV" if b.kind == "attention" else ("weight",)))
             + rf",\ k = 0,\dots,{m - 1}")
    return Family(name, latex, entries, proved_by=NOETHER)


def _weighted(layers: list[Layer]) -> list[Layer]:
    return [layer for layer in layers if layer.kind in ("linear", "conv")]


def _streams(layers: list[Layer], v: VariableTable) -> list[Family]:
    """Rescaling laws of the units that residual blocks with a ReLU after the add pass on.

    In `a, relu, residual, relu, …, residual, relu, b` (identity skips, pass-through layers
    allowed; the activations after the adds may be left out: a block passes the scaled stream on
    linearly), scaling unit (channel) k of `a`'s output by λ > 0, with row k of every body's last
    weighted layer, and column k of every body's first weighted layer and of `b` by 1/λ, leaves
    the network unchanged: the skips carry λ·x_k into the add, where the body's output k is scaled
    alike, and the activations are positively homogeneous. Per unit, ‖incoming‖² − ‖outgoing‖² is
    a law (the per-neuron rescaling of Marcotte, Gribonval, Peyré 2023, Ex. 2.2, with the skips as
    edges of weight 1). A block with a projection shortcut S ends a stream (it reads unit k through
    column k of its body's first layer and of S) and starts the next one (it writes unit k through
    row k of its body's last layer and of S). Checked against φ's fields before use, like every
    family, or, when the stream crosses φ's pieces (a ReLU stem before residual blocks without a
    ReLU after the add), against the network's own fields (``counting.graph.lawcheck``)."""
    out, k = [], 0
    while k < len(layers):
        stream = _stream_at(layers, k)
        if stream is None:
            k += 1
            continue
        out.append(stream.family(v))
        k = stream.end
    return out


@dataclass
class _Stream:
    """Units written by `writers` (rows k), passed on through identity skips, read by `readers`
    (columns k) and by `last` (columns k, or channel k's positions after a flatten)."""

    writers: list[Layer]
    readers: list[Layer]
    last: Layer | None
    positions: int  # flattened positions per channel before `last` (0: not flattened)
    blocks: int  # identity-skip blocks passed
    end: int  # where the next stream may start
    activated: bool = True  # every block passed is followed by a homogeneous activation

    def family(self, v: VariableTable) -> Family:
        units, conv = self.writers[0].params["weight"][0], self.writers[0].kind == "conv"
        writers = [_ids(v, f"{l.name}.{p}") for l in self.writers for p in ("weight", "bias") if p in l.params]
        readers = [_ids(v, f"{l.name}.weight") for l in self.readers]
        last = _ids(v, f"{self.last.name}.weight") if self.last else None
        entries = []
        for k in range(units):
            parts = [_square_sum(ids[k]) for ids in writers] + [_square_sum(ids[:, k], -1) for ids in readers]
            if self.last:
                parts.append(_square_sum(_outgoing(self.last, last, k, self.positions), -1))
            entries.append(poly_sum(parts))
        unit = "c" if conv else "k"
        written = " + ".join(f"‖{l.name}.weight[{unit}]‖²" for l in self.writers)
        read = " − ".join([f"‖{l.name}.weight[:,{unit}]‖²" for l in self.readers]
                          + ([f"‖{self.last.name}.weight{_columns_text(unit, self.positions)}‖²"] if self.last else []))
        after = " with a ReLU after the add" if self.activated else ""
        through = (f"through {self.blocks} residual block{'s' if self.blocks != 1 else ''}{after}"
                   if self.blocks else "across a projection shortcut")
        biases = " (biases of the writers included)" if any("bias" in l.params for l in self.writers) else ""
        name = (f"{written} − {read}{biases}, {unit} = 0…{units - 1} "
                f"(per stream {'channel' if conv else 'unit'} {through})")
        latex = (" + ".join(rf"\|{_tex(l.name + '.weight')}_{{{unit}}}\|^2" for l in self.writers) + " - "
                 + " - ".join(rf"\|{_tex(l.name + '.weight')}_{{:,{unit}}}\|^2"
                              for l in self.readers + ([self.last] if self.last else []))
                 + rf",\ {unit} = 0,\dots,{units - 1}")
        return Family(name, latex, entries)


def _plain_block(layer: Layer) -> bool:
    """A residual block whose body is weighted layers, homogeneous activations and identities."""
    return layer.kind == "residual" and bool(_weighted(layer.body)) and \
        all(l.kind in ("linear", "conv", "identity") or l.kind in HOMOGENEOUS for l in layer.body)


def _stream_at(layers: list[Layer], k: int) -> _Stream | None:
    """The stream written by layer k (a linear or conv layer, or a block with a projection
    shortcut), or None."""
    a = layers[k]
    if a.kind in ("linear", "conv"):
        writers = [a]
    elif _plain_block(a) and a.shortcut:
        writers = [_weighted(a.body)[-1], a.shortcut]
    else:
        return None
    # a block passes the scaled stream on linearly (x_k + body(x)_k, its body's row k scaled alike),
    # so blocks may follow each other; a homogeneous activation is needed only after the writer
    readers, blocks, flattened, homogeneous, activated = [], 0, False, False, True
    for j in range(k + 1, len(layers)):
        layer = layers[j]
        if layer.kind in HOMOGENEOUS:
            homogeneous = True
        elif layer.kind == "flatten":
            flattened = True
        elif layer.kind in POOLING and (homogeneous or layer.kind == "max_pool"):
            # a pool keeps each channel apart and commutes with its positive scaling (a max pool is
            # itself positively homogeneous); no block can follow it in the stream
            homogeneous = flattened = True
        elif layer.kind == "identity":
            pass
        elif not homogeneous:
            return None
        elif _plain_block(layer) and not flattened:
            readers.append(_weighted(layer.body)[0])
            if layer.shortcut:  # the stream ends here; the block writes the next one
                return _Stream(writers, readers + [layer.shortcut], None, 0, blocks, j, activated)
            writers.append(_weighted(layer.body)[-1])
            blocks += 1
            activated = activated and j + 1 < len(layers) and layers[j + 1].kind in HOMOGENEOUS
        elif layer.kind in ("linear", "conv", "softmax_head") and (blocks or len(writers) > 1):
            channels = writers[0].params["weight"][0]  # positions per channel after flatten or pooling
            positions = layer.params["weight"][1] // channels if flattened and writers[0].kind == "conv" \
                and layer.kind != "conv" else 0
            return _Stream(writers, readers, layer, positions, blocks, j, activated)
        else:
            return None
    return None

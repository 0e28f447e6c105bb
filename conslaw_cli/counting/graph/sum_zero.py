"""A softmax head's count from its linear twin with one class fewer.

A softmax head W (C × n) enters φ only through its logits projected on sum-zero vectors,
φ = (P ⊗ I) φ_linear with P = I − 11ᵀ/C (Marcotte, Gribonval, Peyré 2025, Prop 3.11). Let Δ be
the (C − 1) × C difference matrix, rows e_c − e_{c+1}: it maps the sum-zero space onto R^{C−1},
and P = Δ⁺Δ with Δ⁺ injective. In the coordinates (θ_rest, U = ΔW, s = 1ᵀW), a linear bijection
of the parameters,

    φ(θ) = (Δ⁺ ⊗ I) ψ(θ_rest, U),

where ψ is the path-lifting of the same network whose head is the plain linear map U with C − 1
outputs. The fields ∇(α·φ) are the fields of ψ pushed through an invertible linear change of
coordinates, with no component along s; Lie brackets commute with such a change. Hence
dim Lie(V_φ)(θ) = dim Lie(V_ψ)(θ_rest, ΔW) at every θ, and the laws of φ are the laws of ψ plus
the n column sums s (Marcotte et al. 2025, Cor 2.8): D − dim Lie is the same number counted in
either network. The twin's head is an ordinary linear layer, so its block is certified by sparse
path rows like any linear head (``certificate``), at the cost of its linear twin."""

from __future__ import annotations

from dataclasses import replace

from conslaw_cli.graph import Graph, Layer


def linear_twin(graph: Graph) -> Graph:
    """The same network with its softmax head of C ≥ 2 classes replaced by a linear layer with
    C − 1 outputs (same name); the graph itself when it has no such head. dim Lie(V) is the same
    at corresponding points (module docstring); D drops by the head's input width."""
    head = graph.layers[-1] if graph.layers else None
    if head is None or head.kind != "softmax_head" or head.options["classes"] < 2:
        return graph
    classes = head.options["classes"] - 1
    options = {k: v for k, v in head.options.items() if k != "classes"} | {"out": classes}
    twin_head = Layer("linear", head.name, head.in_shape, ("vector", classes), options,
                      {"weight": (classes, head.params["weight"][1])}, line=head.line, col=head.col)
    return replace(graph, layers=graph.layers[:-1] + [twin_head])

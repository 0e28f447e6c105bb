"""`conslaw laws --weight-decay`: the laws' time-dependent form under weight decay.

Marcotte, Gribonval, Peyré 2025, Thm 2.1: for θ' + λ(t)θ = −∇L(θ), the conserved functions are
the H(e^{Λ(t)} θ(t)) with H a law of gradient flow and Λ(t) = ∫_0^t λ(s) ds. A law h homogeneous
of degree k therefore decays at a known rate, h(θ(t)) = e^{−kΛ(t)} h(θ(0)); for the discrete
scheme θ_{K+1} = (1 − τλ)θ_K − τ∇L(θ_K) the quantity (1 − τλ)^{−kK} h(θ_K) is conserved up to
O(τ²) per step (this is what `conslaw verify --weight-decay` checks).
"""

from __future__ import annotations

from conslaw_cli.results.laws import Law, LawsResult
from conslaw_cli.render.polynomial import LatexNames, poly_text

HEADER = ("under weight decay θ' + λ(t)θ = −∇L, with Λ(t) = ∫_0^t λ (Marcotte, Gribonval, Peyré 2025, "
          "Thm 2.1): a law h of degree k gives h(θ(t)) = e^(−kΛ(t)) h(θ(0)); discrete steps: "
          "(1 − τλ)^(−kK) h(θ_K) is conserved to O(τ²)")


def homogeneous_degree(law: Law) -> int | None:
    """k when every monomial of the law has degree k, else None."""
    degrees = {len(m) for m in law.poly}
    return degrees.pop() if len(degrees) == 1 else None


def _times(k: int) -> str:
    """k as a factor in front of Λ: '' for 1."""
    return "" if k == 1 else str(k)


def decayed_form(law: Law, names: list[str] | LatexNames, style: str = "text") -> str:
    """The law's time-dependent form: e^{kΛ(t)} h(θ(t)) = h(θ(0)) for a homogeneous law of degree
    k, h(e^{Λ(t)} θ(t)) = h(θ(0)) otherwise. `style`: text, latex or python (sympy-parsable)."""
    k = homogeneous_degree(law)
    body = poly_text(law.poly, names, latex=style == "latex")
    if style == "latex":
        factor = rf"e^{{{_times(k)}\Lambda(t)}}" if k else ""
        return (rf"{factor}\left({body}\right)" if k else
                rf"h(e^{{\Lambda(t)}}\theta(t)),\ h = {body}")
    if style == "python":
        return f"exp({k}*Lambda_t)*({body})" if k else f"({body})  # evaluate at exp(Lambda_t)*theta"
    return f"e^({_times(k)}Λ(t))·({body})" if k else f"h(e^Λ(t)·θ(t)) with h = {body}"


def family_lines(result: LawsResult) -> list[str]:
    """Terminal lines: one per family (its laws share a degree), one per other law."""
    lines = [HEADER]
    for family, count in result.families:
        members = [law for law in result.laws if law.family == family.name]
        degrees = {homogeneous_degree(law) for law in members}
        if len(degrees) == 1 and None not in degrees:
            k = degrees.pop()
            lines.append(f"  {count} law{'s' if count != 1 else ''} = {family.name}: each h decays as "
                         f"h(θ(t)) = e^(−{_times(k)}Λ(t)) h(θ(0))")
    lines.extend(f"  conserved: {decayed_form(law, result.variables)}"
                 for law in result.laws if law.family is None)
    return lines


def law_json(law: Law, names: list[str] | LatexNames) -> dict:
    """The JSON fields added to a law: its degree of homogeneity and its decayed forms."""
    k = homogeneous_degree(law)
    return {"homogeneous_degree": k, "conserved": decayed_form(law, names, "python"),
            "conserved_latex": decayed_form(law, names, "latex"),
            "decay_factor": f"exp(-{k}*Lambda_t)" if k else None,
            "discrete_conserved": f"(1 - tau*lambda)**(-{k}*K) * h(theta_K)" if k else None}


def to_json(result: LawsResult) -> dict:
    """`laws --json` for one file, each law with a `weight_decay` object."""
    data = result.to_json()
    for entry, law in zip(data["laws"], result.laws):
        entry["weight_decay"] = law_json(law, result.latex_names)
    data["weight_decay_theorem"] = "Marcotte, Gribonval, Peyré 2025, Thm 2.1; Lambda_t = integral of lambda over [0, t]"
    return data


def latex_items(result: LawsResult) -> str:
    """A LaTeX fragment: every law in its conserved, time-dependent form."""
    items = "\n".join(rf"\item ${decayed_form(law, result.latex_names, 'latex')}$" for law in result.laws)
    return ("% under weight decay (Marcotte, Gribonval, Peyre 2025, Thm 2.1), "
            r"$\Lambda(t) = \int_0^t \lambda$; each quantity is conserved" + "\n"
            r"\begin{itemize}" + "\n" + (items or r"\item no polynomial law of this degree") + "\n" + r"\end{itemize}")


def python_lines(result: LawsResult) -> list[str]:
    """`h1_weight_decay = exp(k*Lambda_t)*(…)`: conserved under weight decay (Lambda_t = ∫λ)."""
    from conslaw_cli.render.terminal import python_name

    names = [python_name(n) for n in result.variables]
    return ["# under weight decay: conserved quantities, Lambda_t = integral of lambda over [0, t]"] + [
        f"h{i + 1}_weight_decay = {decayed_form(law, names, 'python')}" for i, law in enumerate(result.laws)]

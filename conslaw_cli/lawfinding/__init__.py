"""Finding the laws. Receives a Graph and its φ, returns the laws of degree ≤ k.

`families.candidate_families`: the named families of the papers (rescaling, Gram, softmax column
sums); `system`: the law system, its exact solver mod p, a basis and its naming by family."""

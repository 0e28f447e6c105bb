"""φ, the factorization of the parameters. Receives a Graph, returns a `compiler.Phi` (named
variables, components, pieces, richness).

Entry point: `compiler.compile_phi` (pieces, path lifting, attention composition, size
estimates, refused above --max-terms); `compiler.piece_layout` gives the pieces without expanding
φ; `blocks` restricts φ to a block of parameters (`--block`)."""

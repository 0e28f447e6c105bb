"""The architecture as a differentiable JAX network (float64). Receives a Graph, returns trained
trajectories and their checks.

Entry point: `verify.verify` (`conslaw verify`: train, check every listed law, a VerifyResult);
`model` (the network), `runs` (optimizers, data), `lie_check` (`count --check`, numerical),
`polynomials` (laws evaluated in JAX), `plot` (figures)."""

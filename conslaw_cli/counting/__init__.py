"""Engines that count conservation laws. Receive a Graph (or a compiled φ), return a
lie.TraceResult: D − dim Lie(V)(θ) at random points, exact mod p with its error bound.

Entry point: `counting.graph.count.trace_graph` (the graph engine, never expands φ). Beside it:
the Lie trace loop (`lie`), the expanded-φ engine kept as the test oracle and for `--block`
(`expanded_phi`, with its compiled `kernels`), arithmetic mod p (`gf`, `flint_bridge`)."""

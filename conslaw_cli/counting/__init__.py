"""Engines that count conservation laws: the graph engine (`counting.graph`, never expands φ),
the Lie trace (`lie`), the expanded-φ oracle (`expanded_phi`), arithmetic mod p (`gf`, `flint_bridge`)
and compiled kernels (`kernels`)."""

"""Finding the laws: the candidate named families (`families`) and the law system with its
solver, basis and naming (`system`)."""

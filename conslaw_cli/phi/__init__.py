"""φ, the factorization of the parameters: the compiler (graph -> pieces, path lifting,
attention composition, size estimates) and the restriction of φ to blocks of parameters."""

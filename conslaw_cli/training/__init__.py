"""The architecture as a differentiable JAX network (float64), for `conslaw verify`."""

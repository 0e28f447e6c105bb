"""Flows beyond gradient flow. Receive an architecture (or a LawsResult), return their own results.

`sign.count`: the laws of the sign flow θ' = −sign(∇L), a model of Adam (an upper bound);
`weight_decay`: each law's time-dependent form under θ' + λθ = −∇L."""

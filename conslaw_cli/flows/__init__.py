"""Flows beyond gradient flow: the sign flow of Adam (`sign`) and weight decay (`weight_decay`)."""

"""The graph engine: counts conservation laws from the layer graph, never expanding φ.

Sub-modules, in the order data flows: ``arith`` (vectorised arithmetic mod p on jets),
``network`` (a piece of φ as a gated network: forward and backward passes on jets), ``fields``
(field values and Lie brackets of a block), ``blocks`` (the blocks of φ, read off the graph),
``certificate`` (sandwich bounds that avoid dense ranks), ``lawcheck`` (candidate laws checked
against the fields), ``estimate`` (cost estimates made before any allocation) and ``count`` (the
orchestration; its entry point is ``trace_graph``).
"""

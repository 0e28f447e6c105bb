"""The graph engine: counts conservation laws from the layer graph, never expanding φ.

Sub-modules, in the order data flows: ``arith`` (vectorised arithmetic mod p on jets),
``pieces`` (the pieces of φ and their blocks, read off the graph), ``network`` (a piece as a
gated network: forward and backward passes on jets), ``fields`` (field values and Lie brackets
of a block), ``certificate`` (sandwich bounds that avoid dense ranks), ``estimate`` (cost
estimates made before any allocation) and ``count`` (the orchestration).
"""

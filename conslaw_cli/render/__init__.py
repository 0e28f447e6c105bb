"""Renderers. Receive result objects, return text (never compute a count or a law).

`terminal` (tables and law listings), `report` (reports and catalogs in Markdown, LaTeX and
JSON), `polynomial` (printing laws), `output` (files replaced atomically, never an input)."""

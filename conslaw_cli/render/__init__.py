"""Renderers: terminal tables and law listings (`terminal`), reports in Markdown, LaTeX and JSON
(`report`), polynomial printing (`polynomial`) and safe writing of output files (`output`)."""

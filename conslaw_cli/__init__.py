"""conslaw: the conservation laws of a neural network's training, exact (docs/api.md).

    from conslaw_cli import Architecture, count, laws, report, verify

The names are imported on first use, so that the `conslaw` command's start-up stays small."""

_API = ("Architecture", "count", "laws", "report", "architecture_report", "verify", "factorization", "per_block",
        "sign_flow_count", "numerical_check")
_TYPES = {"ConslawError": "errors", "CountResult": "results.count", "LawsResult": "results.laws",
          "Law": "results.laws", "Family": "results.laws", "ProgressEvent": "counting.progress"}
__all__ = [*_API, *_TYPES]


def __getattr__(name: str):
    """The public names, imported when first asked for (PEP 562)."""
    import importlib

    if name in _API:
        return getattr(importlib.import_module(".api", __name__), name)
    if name in _TYPES:
        return getattr(importlib.import_module("." + _TYPES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

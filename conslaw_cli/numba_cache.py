"""Where numba keeps conslaw's compiled kernels, and recovery from a damaged cache.

Imported by counting/kernels.py before numba itself, because numba reads NUMBA_CACHE_DIR when it is
imported. Unless the user chose a directory, the cache goes to ``$XDG_CACHE_HOME/conslaw/numba``
(default ``~/.cache/conslaw/numba``), not into the source tree of an editable install.

A truncated or corrupt cache file makes numba's loader raise (EOFError, UnpicklingError, …) on
every later run. The loader is wrapped so that, for conslaw's kernels only, such an error removes
that module's cache entries and returns "not cached": numba compiles again and rewrites them.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_directory() -> Path:
    """$XDG_CACHE_HOME/conslaw/numba, or ~/.cache/conslaw/numba."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "conslaw" / "numba"


def _choose_cache_directory() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    directory = cache_directory()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # an unwritable home: numba's own fallback applies
    os.environ["NUMBA_CACHE_DIR"] = str(directory)


def _remove_entries(cache_path: str, module: str) -> None:
    """Delete the index and data files of `module` (e.g. kernels.gradient-55.py311.nbi)."""
    for entry in Path(cache_path).glob(f"{module}.*"):
        try:
            entry.unlink()
        except OSError:
            pass


def _recover_from_damaged_entries() -> None:
    from numba.core import caching

    load_overload = caching.Cache.load_overload

    def load_or_recompile(self, sig, target_context):
        module = getattr(getattr(self, "_py_func", None), "__module__", "") or ""
        if not module.startswith(f"{__package__}."):
            return load_overload(self, sig, target_context)
        try:
            return load_overload(self, sig, target_context)
        except Exception:  # a damaged file: start this module's cache afresh
            _remove_entries(self._cache_path, module.rsplit(".", 1)[-1])
            return None

    caching.Cache.load_overload = load_or_recompile


_choose_cache_directory()
_recover_from_damaged_entries()

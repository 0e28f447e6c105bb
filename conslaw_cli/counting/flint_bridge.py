"""numpy residues → python-flint `nmod_mat`, at memory speed.

python-flint builds an `nmod_mat` from a Python list, one entry at a time: 0.2 s per million
entries, as long as FLINT's elimination itself on the matrices of the graph engine (a 1626 × 2400
rank of a linear 30-40-30 network: 0.8 s of conversion, 1.1 s of rank, measured here). FLINT stores
the entries of an `nmod_mat` row after row, `stride` words apart (its documented `nmod_mat_struct`:
entries, r, c, stride, mod), so a C-contiguous uint64 array is that memory already. `to_nmod_mat`
allocates a zero matrix with python-flint and copies the array into its entries.

The entries pointer sits inside the python-flint object, at a place python-flint does not
promise. It is found by its neighbours (r, c, stride = c, modulus p must follow it), and the whole
route is checked once per process on a small matrix against python-flint's own conversion; if
anything differs (another python-flint layout), every conversion takes the list route instead.
"""

from __future__ import annotations

import ctypes
import functools

import flint
import numpy as np

from conslaw_cli.blas_threads import usable_cores
from .gf import PRIME

# FLINT's dense elimination runs on every core it is given (a 1600×2400 rank: 1.8 s on one core,
# 1.0 s on two, measured here).
flint.ctx.threads = usable_cores()

_WORDS_SCANNED = 16  # the object header, the vtable pointer and the nmod_mat struct fit in these


def _entries_address(matrix: flint.nmod_mat, rows: int, cols: int) -> int | None:
    """Address of the entries of a fresh `rows × cols` matrix mod PRIME, or None if the struct
    (entries, r, c, stride = c, modulus) is not found where expected."""
    words = (ctypes.c_uint64 * _WORDS_SCANNED).from_address(id(matrix))
    for i in range(1, _WORDS_SCANNED - 4):
        if (words[i], words[i + 1], words[i + 2], words[i + 3]) == (rows, cols, cols, PRIME):
            return words[i - 1] or None
    return None


def _list_route(rows: np.ndarray) -> flint.nmod_mat:
    # a flat list into fmpz_mat, then one reduction in C: 1.7× faster than a list into nmod_mat
    integers = flint.fmpz_mat(rows.shape[0], rows.shape[1], rows.ravel().tolist())
    return flint.nmod_mat(integers, PRIME)


def _copy_route(rows: np.ndarray) -> flint.nmod_mat | None:
    """The matrix built by one memory copy, or None when the struct is not recognised."""
    count, cols = rows.shape
    matrix = flint.nmod_mat(count, cols, PRIME)
    address = _entries_address(matrix, count, cols)
    if address is None:
        return None
    data = np.ascontiguousarray(rows, dtype=np.uint64)
    if data.max() >= PRIME:  # FLINT assumes reduced entries
        data = data % np.uint64(PRIME)
    ctypes.memmove(address, data.ctypes.data, data.nbytes)
    return matrix


@functools.cache
def _copy_route_works() -> bool:
    """Does the copy route give python-flint's own matrix here? (Checked once per process.)"""
    sample = (np.arange(35, dtype=np.uint64).reshape(5, 7) * np.uint64(0x9E3779B97F4A7C1)) % np.uint64(PRIME)
    copied = _copy_route(sample)
    return copied is not None and copied.entries() == _list_route(sample).entries()


def to_nmod_mat(rows: np.ndarray) -> flint.nmod_mat:
    """The 2-D array of residues (< PRIME) as an `nmod_mat` mod PRIME."""
    if rows.shape[0] and rows.shape[1] and _copy_route_works():
        matrix = _copy_route(rows)
        if matrix is not None:
            return matrix
    return _list_route(rows)

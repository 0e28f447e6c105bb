"""Writing results: standard output, or a file replaced atomically.

A file is written to a temporary file in the target's directory and renamed over the target, so
a failed write (disk full, file size limit, a bad character) leaves the old file intact; the new
file keeps the old one's permissions. The target is refused when it resolves to one of the input
files (``report a.yaml -o a.yaml``) or is a directory; a symbolic link at the target is replaced
by the new file, never followed. ``-o -`` means standard output; a device or a named pipe
(``-o /dev/null``) is written to directly, since it cannot be replaced."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from conslaw_cli.errors import ConslawError
from conslaw_cli.streams import write_document

STDOUT = "-"


def write_output(text: str | bytes, target: Path | None, inputs: list[Path]) -> None:
    """Write `text` (or the bytes of a figure) to standard output (target None or '-') or
    atomically to the file `target`."""
    data = text.encode("utf-8") if isinstance(text, str) else text  # an encoding error changes no file
    if target is None or str(target) == STDOUT:
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
            sys.stdout.flush()
        else:
            write_document(text)  # UTF-8 whatever the locale, the bytes -o would write
        return
    if _is_stream(check_target(target, inputs)):
        _write_directly(target, data)
    else:
        _replace(target, data)


def check_target(target: Path, inputs: list[Path]) -> int | None:
    """Refuse (ConslawError) a target that is an input file or a directory; '-' is standard
    output and always fine. Returns the target's st_mode (without following a link), or None."""
    if str(target) == STDOUT:
        return None
    resolved = Path(os.path.realpath(target))
    for source in inputs:
        if Path(os.path.realpath(source)) == resolved or _same_file(source, target):
            raise ConslawError(f"refusing to write the output over the input file {source}", str(target),
                               hint="choose another output file, e.g. -o report.md")
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConslawError(f"cannot write: {exc.strerror}", str(target)) from None
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or _is_stream(mode)):
        raise ConslawError("cannot write: not a regular file", str(target),
                           hint="give a file name, or '-o -' for standard output")
    return mode


def _is_stream(mode: int | None) -> bool:
    return mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))


def _write_directly(target: Path, data: bytes) -> None:
    try:
        with open(target, "wb") as stream:
            stream.write(data)
    except OSError as exc:
        raise ConslawError(f"cannot write: {exc.strerror}", str(target)) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _replace(target: Path, data: bytes) -> None:
    """Temporary file next to `target`, flushed to disk, then renamed over it (a symlink at
    `target` is replaced, not followed); the temporary file is removed on any failure."""
    directory = target.parent
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConslawError(f"cannot write: {exc.strerror}", str(target)) from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        raise ConslawError(f"cannot write: {exc.strerror}; the existing file is unchanged", str(target)) from None
    except BaseException:
        _remove(temporary)
        raise


def _mode_for(target: Path) -> int:
    """The permissions of the file being replaced, else 0666 less the umask: what `open()`
    would give (mkstemp gives 0600)."""
    try:
        info = os.lstat(target)
        if stat.S_ISREG(info.st_mode):
            return stat.S_IMODE(info.st_mode)
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

"""Write a file whole or not at all; read one up to a limit.

Every file bayesleg writes goes through :func:`replacing`: the content goes to
a temporary file in the target's folder (so on the same filesystem), is
flushed to disk, and only then renamed over the target with ``os.replace``.
A write cut short (a full disk, a file-size limit, an exception halfway)
leaves the original file as it was and removes the temporary file; a killed
process leaves at most a hidden ``.NAME.*.tmp`` file beside it, never a
half-written target.

:func:`read_limited` reads a file that bayesleg takes whole (a model file, a
vignette file, a FHIR resource) without holding more than its limit, so a
wrong path such as ``/dev/zero`` or a huge file is an error, not a process that
eats the machine's memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from bayesleg.errors import InvalidArgumentError

__all__ = ["MAX_READ_BYTES", "check_file_name", "read_limited", "replacing", "write_text"]

#: The largest file read whole, in bytes: the shipped model file is about 100 KiB.
MAX_READ_BYTES = 64 * 1024 * 1024


def read_limited(path: str | os.PathLike[str], limit: int = MAX_READ_BYTES) -> bytes:
    """Return the bytes of the file at ``path``, refusing one longer than ``limit``.

    Raises
    ------
    OSError
        If the file cannot be read, or (``errno.EFBIG``) holds more than
        ``limit`` bytes; ``strerror`` says which, ``filename`` names the file.
    """
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise OSError(
            errno.EFBIG, f"it holds more than {limit} bytes, the most read whole", os.fspath(path)
        )
    return data


def check_file_name(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, refusing a name that ends in a separator.

    ``Path("out.csv/")`` silently drops the slash; a name ending in one names
    a folder, not a file to write.

    Raises
    ------
    InvalidArgumentError
        If ``path`` ends in ``/`` (or the platform's separator).

    Examples
    --------
    >>> check_file_name("out.csv")
    PosixPath('out.csv')
    >>> check_file_name("out.csv/")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bayesleg.errors.InvalidArgumentError: cannot write 'out.csv/': a name ending in '/' ...
    """
    text = os.fspath(path)
    separators = (os.sep, os.altsep) if os.altsep else (os.sep,)
    if text.endswith(separators):
        raise InvalidArgumentError(
            f"cannot write {text!r}: a name ending in {text[-1]!r} names a folder; "
            "expected a file name"
        )
    return Path(text)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place atomically.

    The caller writes the whole content to the yielded path (it exists,
    empty, and keeps the suffix of ``path`` so writers that pick a format by
    suffix still do).  When the block ends without an exception the file is
    fsynced, given the permissions of the file it replaces (or the usual
    ``0o666`` less the umask for a new one), and renamed over ``path``.  On
    any exception, including ``KeyboardInterrupt``, the temporary file is
    removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    overwrite : bool, default True
        If False, an existing ``path`` raises :class:`FileExistsError` before
        anything is written.

    Yields
    ------
    pathlib.Path
        The temporary file to write to.

    Raises
    ------
    InvalidArgumentError
        If ``path`` ends in a separator, or ``overwrite`` is not True or False.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    OSError
        If the folder is missing or not writable, or writing fails.
    """
    if not isinstance(overwrite, bool):  # "no" and 1 would read as True, and overwrite
        raise InvalidArgumentError(f"overwrite must be True or False, got {overwrite!r}")
    target = check_file_name(path)
    if not target.parent.is_dir():  # named, rather than the temporary file beside it
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(target.parent))
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "the file exists", str(target))
    temporary = _create_temporary(target)
    try:
        yield temporary
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, os.stat(target).st_mode & 0o7777)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(target.parent)


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` to ``path`` as UTF-8, whole or not at all; see :func:`replacing`.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_text(f"{folder}/note.txt", "hello\\n")
    ...     path.read_text(encoding="utf-8")
    'hello\\n'
    """
    with (
        replacing(path, overwrite=overwrite) as temporary,
        open(temporary, "w", encoding="utf-8") as file,
    ):
        file.write(text)
    return Path(path)


def _create_temporary(target: Path) -> Path:
    # os.open with mode 0o666 applies the umask, as a plain open() would for
    # the new file; mkstemp would make it 0o600.
    for _ in range(100):
        name = f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}"
        temporary = target.parent / name
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(descriptor)
        return temporary
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _sync_folder(folder: Path) -> None:
    # Make the rename itself durable; not every platform can open a folder.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)

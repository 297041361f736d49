"""Reading and writing files: clear errors for paths that are wrong, and outputs written whole.

* :func:`check_input_file` says what is wrong with a path that should be a readable file (missing, a
  directory, a parent that is a file, no permission).
* :func:`read_npy` reads a plain numeric array from a ``.npy`` file, never a pickle; :func:`read_npy_bytes` does
  the same for bytes (an upload), and :func:`npy_header` reads what a ``.npy`` stream declares (shape, dtype)
  before any of its data, so a reader can refuse an array larger than it needs without allocating it.
* :func:`describe_os_error` turns an :class:`OSError` into one line that names the path and the cause.
* :func:`check_output_prefix` and :func:`write_together` write the files of one run (a map's ``.npy`` and
  ``.png``) so that each is always whole and, once a run has finished, they all come from the same run.

What :func:`write_together` guarantees: every file is written to a temporary name in its final directory and
renamed into place (:func:`os.replace`, atomic on one file system), so a reader never sees a half-written file.
The renames of one run are done one after another while holding an exclusive lock on the directory
(``fcntl.flock``, where the platform has it), with SIGINT and SIGTERM held back until they are done, so two runs
writing the same names at the same time, or a Ctrl-C, leave the files of one run together, not a ``.npy`` of one
beside the ``.png`` of another. An interrupted run leaves the files of the previous run (or none) and no temporary
files. Not covered: a reader that looks between the two renames (it may see the new ``.npy`` beside the old
``.png`` for an instant), and a hard kill (SIGKILL, power loss) between the renames.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np


def check_input_file(path: str | Path, name: str) -> Path:
    """Check that ``path`` is an existing, readable file; raise an error naming ``name`` and the path if not.

    Args:
        path: The path given.
        name: What the file is (``"image"``, ``"reference"``), for messages.

    Returns:
        The path.

    Raises:
        FileNotFoundError: Nothing exists at the path.
        IsADirectoryError: The path is a directory.
        NotADirectoryError: A parent of the path is a file.
        PermissionError: The file may not be read.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{name}: {str(path)!r} is a directory, not a file")
    if not path.is_file():
        parent = _first_non_directory_parent(path)
        if parent is not None:
            raise NotADirectoryError(f"{name}: {str(path)!r} cannot exist: {str(parent)!r} is a file, not a "
                                     "directory")
        raise FileNotFoundError(f"{name}: file {str(path)!r} does not exist")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{name}: no permission to read {str(path)!r}")
    return path


def _first_non_directory_parent(path: Path) -> Path | None:
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


NPZ_SIGNATURE = b"PK\x03\x04"  # a zip archive (numpy.savez): several arrays, not one


class NpyHeader(NamedTuple):
    """What a ``.npy`` stream declares before its data."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        """Bytes of the declared array."""
        return math.prod(self.shape) * self.dtype.itemsize


def npy_header(stream: IO[bytes], name: str) -> NpyHeader:
    """Read the header of a ``.npy`` stream (its first bytes only) and leave the stream at the array's data.

    Args:
        stream: A binary stream at the start of the ``.npy`` data.
        name: What the array is, for messages (the uploaded file's name, ``"reference"``).

    Returns:
        The declared shape, order and dtype.

    Raises:
        ValueError: The stream does not start with NumPy's ``.npy`` signature (a text file, an ``.npz`` archive),
            its header is unreadable, or its dtype holds Python objects (never read: that would unpickle).
    """
    start = stream.read(len(NPZ_SIGNATURE))
    if start == NPZ_SIGNATURE:
        raise ValueError(f"{name} is an .npz archive of several arrays; save the one array with numpy.save as a "
                         ".npy file")
    try:
        stream.seek(-len(start), 1)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        cause = " ".join(str(error).split())
        if "magic" in cause.lower():
            cause = "it does not start with the .npy signature: it is not an array saved by numpy.save"
        raise ValueError(f"{name} is not a readable .npy file ({cause})") from error
    if dtype.hasobject:
        raise ValueError(f"{name} holds Python objects (an object array), not numbers; save plain numbers with "
                         "numpy.save(path, numpy.asarray(values, dtype=float))")
    return NpyHeader(tuple(int(n) for n in shape), bool(fortran_order), dtype)


def read_npy_bytes(data: bytes, name: str, max_bytes: int | None = None) -> np.ndarray:
    """Read a plain array from the bytes of a ``.npy`` file (an upload), its header checked before its data.

    Args:
        data: The file's bytes.
        name: What the array is (the uploaded file's name), for messages.
        max_bytes: Refuse an array that declares more bytes than this, before allocating it; None: no limit.

    Returns:
        The array, as saved (any numeric or boolean dtype; the caller checks what it needs).

    Raises:
        ValueError: See :func:`npy_header`; or the array is larger than ``max_bytes``, or truncated.
    """
    stream = io.BytesIO(data)
    header = npy_header(stream, name)
    if max_bytes is not None and header.nbytes > max_bytes:
        raise ValueError(f"{name} declares an array of shape {header.shape} ({header.nbytes / 2**20:.0f} MB), more "
                         f"than the {max_bytes / 2**20:.0f} MB it may have")
    if len(data) - stream.tell() < header.nbytes:
        raise ValueError(f"{name} is truncated: it declares an array of shape {header.shape} of {header.dtype}, "
                         f"but holds {len(data) - stream.tell()} of its {header.nbytes} bytes")
    return np.load(io.BytesIO(data), allow_pickle=False)


def read_npy(path: str | Path, name: str) -> np.ndarray:
    """Read a plain numeric array from a ``.npy`` file (no pickles, no object arrays, no ``.npz`` archives).

    Args:
        path: The ``.npy`` file.
        name: What the array is (``"reference"``), for messages.

    Returns:
        The array, as saved.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: See :func:`check_input_file`.
        ValueError: The file is not a ``.npy`` file, is truncated, or holds objects or non-numbers.
    """
    path = check_input_file(path, name)
    label = f"{name}: {str(path)!r}"
    try:
        with open(path, "rb") as stream:
            header = npy_header(stream, label)
            size = os.fstat(stream.fileno()).st_size - stream.tell()
        if size < header.nbytes:
            raise ValueError(f"{label} is not a readable .npy file: it is truncated ({size} of the "
                             f"{header.nbytes} bytes of its array of shape {header.shape})")
        loaded = np.load(path, allow_pickle=False)
    except PermissionError as error:
        raise PermissionError(f"{name}: no permission to read {str(path)!r}") from error
    except (EOFError, OSError) as error:
        raise ValueError(f"{label} is not a readable .npy file: it is truncated or corrupt ({error})") from error
    if not (np.issubdtype(loaded.dtype, np.number) or loaded.dtype == bool):
        raise ValueError(f"{label} holds an array of dtype {loaded.dtype}, not numbers")
    return loaded


def describe_os_error(error: OSError) -> str:
    """One line naming the path and the cause of an :class:`OSError` (our own messages are kept as they are).

    Args:
        error: The error.

    Returns:
        For example ``"permission denied: '/data/out.png'"`` or ``"'/data' is a directory, not a file"``.
    """
    if error.filename is None or not error.strerror:
        return str(error)
    path = repr(str(error.filename))
    causes = {
        errno.EACCES: f"permission denied: {path}",
        errno.EPERM: f"operation not permitted: {path}",
        errno.ENOENT: f"{path} does not exist",
        errno.EISDIR: f"{path} is a directory, not a file",
        errno.ENOTDIR: f"{path}: a part of this path is a file, not a directory",
        errno.EROFS: f"{path} is on a read-only file system",
        errno.ENOSPC: f"no space left on the device to write {path}",
    }
    known = None if error.errno is None else causes.get(error.errno)
    return known or f"{path}: {error.strerror.lower()}"


def check_output_prefix(output: str | Path, suffixes: Sequence[str]) -> list[Path]:
    """Check, before any work is done, that the files ``<output><suffix>`` can be written; return their paths.

    Args:
        output: Path prefix; its directory must exist and be writable.
        suffixes: The suffixes appended, e.g. ``(".npy", ".png")``.

    Returns:
        The paths ``<output><suffix>``, one per suffix.

    Raises:
        FileNotFoundError: The directory does not exist.
        NotADirectoryError: The directory is a file.
        IsADirectoryError: One of the paths is a directory.
        PermissionError: The directory is not writable (or is on a read-only file system).
    """
    output = Path(output)
    folder = output.parent
    if not folder.exists():
        raise FileNotFoundError(f"output: directory {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"output: {str(folder)!r} is a file, not a directory")
    paths = [output.with_name(output.name + suffix) for suffix in suffixes]
    for path in paths:
        if path.is_dir():
            raise IsADirectoryError(f"output: {str(path)!r} is a directory; choose another --output")
    try:  # the real test of writability: create and delete a file (os.access misses read-only mounts and ACLs)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dianna-distance-probe-"):
            pass
    except OSError as error:
        raise PermissionError(f"output: cannot write to directory {str(folder)!r} "
                              f"({describe_os_error(error)})") from error
    return paths


def write_together(writers: Sequence[tuple[Path, Callable[[Path], None]]]) -> list[Path]:
    """Write several files of one run whole and together (see the module docstring for the guarantee).

    Args:
        writers: ``(final path, write)`` pairs; ``write(temporary_path)`` writes the file's content to the
            temporary path, which lies in the final path's directory and has the same suffix.

    Returns:
        The final paths.
    """
    temporary: list[Path] = []
    try:
        for path, write in writers:
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
            os.close(handle)
            temporary.append(Path(name))
            os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
            write(Path(name))
        with _signals_held(), _directory_lock(writers[0][0].parent):
            for (path, _), written in zip(writers, temporary):
                os.replace(written, path)
        temporary = []
    finally:
        for leftover in temporary:
            with contextlib.suppress(OSError):
                leftover.unlink()
    return [path for path, _ in writers]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _directory_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on a directory (a no-op where ``fcntl`` or directory locks are missing)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (delivered on exit) in the main thread of a POSIX process."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

"""Known public model files, fetched with pooch into a cache directory and checked by SHA-256.

Every function that takes a registry name also takes a local path, which is used as it is. The cache directory
is, in order: the one given to :func:`set_cache_dir`, the ``DIANNA_DISTANCE_CACHE`` environment variable, or the
operating system's user cache (``pooch.os_cache("dianna-distance")``).

Checksums come from the publisher: the Git LFS pointer of each file states its SHA-256 (``oid sha256:...``).
Where the publisher states none (small non-LFS files, or files whose pointer we could not read), ``sha256`` is
None and the download is not verified; :data:`REGISTRY` says so per file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dianna_distance.files import check_input_file, describe_os_error

CACHE_ENV = "DIANNA_DISTANCE_CACHE"
_cache_dir: Path | None = None


@dataclass(frozen=True)
class RemoteFile:
    """A file to download.

    Args:
        url: Where to download it from (pinned to a commit, so that the checksum stays valid).
        fname: File name in the cache directory.
        sha256: Expected SHA-256 in hex, or None when the publisher states none (then not verified).
        source: Where the URL and checksum come from.
    """

    url: str
    fname: str
    sha256: str | None = None
    source: str = ""


_ZOO = "https://media.githubusercontent.com/media/onnx/models"
_XENOVA = "https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/4c1807b705b1d015fb032789cc4d221b23025a6f"

#: Registry of known public files. ``clip-text`` and ``clip-tokenizer`` are not verified: no SHA-256 for them
#: was available to us from the publisher when this registry was written.
REGISTRY = {
    "resnet50": RemoteFile(
        url=f"{_ZOO}/652f4e4af7975c8e7a505c4b6e0f8ac72d8260ea/vision/classification/resnet/model/resnet50-v1-12.onnx",
        fname="resnet50-v1-12.onnx",
        sha256="ab65bdc02c5b3123eb3cdf6dac01742438517d8635d4f233913b2be1c70db3b6",
        source="ONNX Model Zoo (github.com/onnx/models), Git LFS pointer of resnet50-v1-12.onnx at commit 652f4e4, "
               "size 102576419 bytes",
    ),
    "vgg16": RemoteFile(
        url=f"{_ZOO}/13fcb614fdedcc09864c0691c080ccf82ca3b85b/vision/classification/vgg/model/vgg16-7.onnx",
        fname="vgg16-7.onnx",
        sha256="f20805a3ecccaa88647bbab4ad011ff2412a9838485ea844de0fcbce349820b9",
        source="ONNX Model Zoo (github.com/onnx/models), Git LFS pointer of vgg16-7.onnx at commit 13fcb61, "
               "size 553437328 bytes",
    ),
    "clip-image": RemoteFile(
        url=f"{_XENOVA}/onnx/vision_model.onnx",
        fname="clip-vit-base-patch32-vision_model.onnx",
        sha256="fd6e1402a588279d1723c7534d4bcba5bc0b14b47dfab0e46f8c47b8270d7d40",
        source="Hugging Face Xenova/clip-vit-base-patch32 (ONNX export of openai/clip-vit-base-patch32), Git LFS "
               "details of onnx/vision_model.onnx at commit 4c1807b",
    ),
    "clip-text": RemoteFile(
        url=f"{_XENOVA}/onnx/text_model.onnx",
        fname="clip-vit-base-patch32-text_model.onnx",
        sha256=None,
        source="Hugging Face Xenova/clip-vit-base-patch32, onnx/text_model.onnx at commit 4c1807b; SHA-256 not "
               "known to us, not verified",
    ),
    "clip-tokenizer": RemoteFile(
        url=f"{_XENOVA}/tokenizer.json",
        fname="clip-vit-base-patch32-tokenizer.json",
        sha256=None,
        source="Hugging Face Xenova/clip-vit-base-patch32, tokenizer.json at commit 4c1807b (a plain git file, no "
               "LFS checksum); not verified",
    ),
}


def set_cache_dir(path: str | Path | None) -> None:
    """Set the directory downloads go to; None goes back to ``$DIANNA_DISTANCE_CACHE`` or the user cache."""
    global _cache_dir
    _cache_dir = None if path is None else Path(path)


def _pooch():
    """pooch, imported without the warning its ``tqdm.auto`` import gives in a notebook without ipywidgets.

    That warning ("IProgress not found") is about progress bars this package never asks pooch to draw.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import pooch
    return pooch


def get_cache_dir() -> Path:
    """The directory downloads go to (see the module docstring for the order)."""
    pooch = _pooch()

    if _cache_dir is not None:
        return _cache_dir
    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("dianna-distance"))


def fetch(name_or_path: str | Path | RemoteFile, cache_dir: str | Path | None = None) -> Path:
    """Return a local path to a model file: a local path as it is, or a registry file, downloaded if needed.

    A registry file already in the cache is checked against its SHA-256 (where the registry knows it) and used
    without the network; a cached file that fails the check is an error that names it (delete it to download it
    again), not a silent new download.

    A local file always wins: a :class:`~pathlib.Path`, a str with a directory part (``./resnet50``), or a bare
    name that is also an existing file (``resnet50`` when such a file is in the current directory) is that file.

    Args:
        name_or_path: A key of :data:`REGISTRY`, a :class:`RemoteFile`, or the path of an existing file.
        cache_dir: Directory to download into; default :func:`get_cache_dir`.

    Returns:
        Path of the file.

    Raises:
        FileNotFoundError: A path that does not exist (any str that is not a registry name is taken as a path).
        IsADirectoryError: The path, or the cached file's path, is a directory.
        PermissionError: The cache directory cannot be created or written (the message says how to choose another).
        DownloadError: The download failed (offline, or the server did not deliver the file); the message starts
            with what to do: which file to download from which URL, and where to put it (or pass its local path).
        ValueError: The cached or downloaded file's SHA-256 differs from the registry's; a failed download leaves
            nothing in the cache.
    """
    import requests

    pooch = _pooch()

    if isinstance(name_or_path, (str, Path)) and not is_registry_name(name_or_path):
        path = Path(name_or_path)
        if path.is_dir():
            raise IsADirectoryError(f"model: {str(path)!r} is a directory, not a model file")
        if not path.is_file():
            raise FileNotFoundError(f"{str(path)!r} is neither an existing file nor a known model name "
                                    f"({', '.join(REGISTRY)})")
        return check_input_file(path, "model")
    remote = name_or_path if isinstance(name_or_path, RemoteFile) else REGISTRY[str(name_or_path)]
    folder = Path(cache_dir) if cache_dir is not None else get_cache_dir()
    target = folder / remote.fname
    if target.exists():
        return _check_cached(target, remote)
    _check_cache_dir(folder)
    known_hash = f"sha256:{remote.sha256}" if remote.sha256 else None
    try:
        return Path(pooch.retrieve(remote.url, known_hash=known_hash, fname=remote.fname, path=folder))
    except requests.exceptions.RequestException as error:
        raise DownloadError(download_advice([(remote, None)], folder), remote, error) from error
    except ValueError as error:  # pooch: the downloaded file's hash differs (the file is not kept)
        raise ValueError(f"the download of {remote.fname} from {remote.url} does not match its SHA-256 hash "
                         f"{remote.sha256} ({error}); nothing was kept in {folder}") from error
    except OSError as error:
        raise OSError(f"could not write {remote.fname} to the cache directory {str(folder)!r} "
                      f"({error}); set {CACHE_ENV} or call set_cache_dir() to use another directory") from error


class DownloadError(ConnectionError):
    """A failed download; its message starts with what to do (which files, from where, to where).

    Args:
        message: The message.
        remote: The file whose download failed.
        cause: The error of the download.
    """

    def __init__(self, message: str, remote: RemoteFile, cause: BaseException) -> None:
        super().__init__(f"{message}; could not download {remote.fname} ({cause})")
        self.remote = remote
        self.cause = cause


def download_advice(remotes: Sequence[tuple[RemoteFile, str | None]], folder: Path) -> str:
    """What to do when files cannot be downloaded: each one's URL and path in the cache, or how to pass a copy.

    Args:
        remotes: The files to download, each with how a local copy of it is passed instead (a parameter or an
            option, such as ``"text_model="`` or ``"--tokenizer"``), or None when that is not known.
        folder: The cache directory.

    Returns:
        For one file, ``"download URL to PATH (or pass the local path of a copy instead)"``; for several, one such
        entry each, after ``"download the N files needed into FOLDER (or pass local copies instead)"``.
    """
    def entry(remote: RemoteFile, label: str | None) -> str:
        return f"{remote.url} to {folder / remote.fname}" + (f" (or pass a copy as {label})" if label else "")

    if len(remotes) == 1:
        ((remote, label),) = remotes
        how = f", as {label}" if label else ""
        return (f"download {remote.url} to {folder / remote.fname} (or download it elsewhere and pass its local path "
                f"instead{how})")
    entries = "; ".join(entry(remote, label) for remote, label in remotes)
    return (f"download the {len(remotes)} files needed into the cache folder {str(folder)!r} (or pass local copies "
            f"instead): {entries}")


def fetch_all(
    files: Mapping[str, str | Path | RemoteFile], cache_dir: str | Path | None = None
) -> dict[str, Path]:
    """:func:`fetch` several files; a failed download is one error that names every file still to download.

    Args:
        files: Each file (a registry name, a :class:`RemoteFile` or a local path) under how a local copy of it is
            passed instead (a parameter or an option, such as ``"text_model="`` or ``"--tokenizer"``).
        cache_dir: Directory to download into; default :func:`get_cache_dir`.

    Returns:
        The local path of each file, under the same keys.

    Raises:
        DownloadError: A download failed; the message lists, with its URL and its path in the cache, every file
            of ``files`` that was not in the cache or downloaded before the failure (the failed one included).
        FileNotFoundError, ValueError, OSError: As :func:`fetch`.
    """
    folder = Path(cache_dir) if cache_dir is not None else get_cache_dir()
    paths: dict[str, Path] = {}
    for label, value in files.items():
        try:
            paths[label] = fetch(value, folder)
        except DownloadError as error:
            pending = [(remote, key) for key, remote in _remotes(files).items()
                       if key not in paths and not (folder / remote.fname).exists()]
            raise DownloadError(download_advice(pending, folder), error.remote, error.cause) from error.cause
    return paths


def prefetch(files: Mapping[str, str | Path | RemoteFile], cache_dir: str | Path | None = None) -> None:
    """Download every registry file among ``files`` that is not in the cache yet; other names are left alone.

    For a command that needs several files: one failed download is then one error that names all of them.

    Args:
        files: As :func:`fetch_all` takes them; values that are not registry names (local paths, presets that are
            exported rather than downloaded) are skipped, to be read by whatever reads them later.
        cache_dir: Directory to download into; default :func:`get_cache_dir`.

    Raises:
        DownloadError: As :func:`fetch_all`.
    """
    fetch_all(_remotes(files), cache_dir)


def _remotes(files: Mapping[str, str | Path | RemoteFile]) -> dict[str, RemoteFile]:
    """The registry files among ``files`` (local paths left out)."""
    remotes = {}
    for label, value in files.items():
        if isinstance(value, RemoteFile):
            remotes[label] = value
        elif is_registry_name(value):
            remotes[label] = REGISTRY[str(value)]
    return remotes


def is_registry_name(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a :data:`REGISTRY` file rather than a local one.

    Only a bare str that is a key of the registry does, and only when no file of that name exists (a local file
    named like a registry entry is the file, as every function that takes a registry name promises).
    """
    if not isinstance(name_or_path, str) or name_or_path not in REGISTRY:
        return False
    return not Path(name_or_path).is_file()


def _check_cached(target: Path, remote: RemoteFile) -> Path:
    """A cached registry file, checked against the registry's SHA-256 where it states one."""
    check_input_file(target, f"cached file of {remote.fname}")
    if remote.sha256:
        digest = hashlib.sha256()
        with open(target, "rb") as file:
            for block in iter(lambda: file.read(2**20), b""):
                digest.update(block)
        if digest.hexdigest() != remote.sha256:
            raise ValueError(f"the cached file {str(target)!r} fails its SHA-256 check (expected {remote.sha256}, "
                             f"found {digest.hexdigest()}): it is damaged or not the registry's file. Delete it "
                             "to download it again, or replace it with the right file")
    return target


def _check_cache_dir(folder: Path) -> None:
    """Create the cache directory if needed and check that files can be written in it."""
    advice = f"set {CACHE_ENV} or call set_cache_dir() to use a writable directory"
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"cache directory {str(folder)!r} is a file; {advice}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dianna-distance-probe-"):
            pass
    except OSError as error:
        raise PermissionError(f"cache directory {str(folder)!r} is not writable ({describe_os_error(error)}); "
                              f"{advice}") from error

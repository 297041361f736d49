"""Shared checks of user input: every message names the parameter and says what is expected.

Every module of the package validates through these functions, so that the same mistake gets the same message
wherever it is made.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings

import numpy as np

RandomState = int | np.random.Generator | None


def check_int(value: object, name: str, minimum: int) -> int:
    """Check that ``value`` is an integer (not a bool) of at least ``minimum``; return it as an ``int``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def real_number(value: object) -> float | None:
    """``value`` as a float when it is a real number (an int or a float, NumPy's included; not a bool), else None.

    An int too large for a float becomes ``inf`` (with its sign), so that a check of finiteness refuses it.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return -math.inf if value < 0 else math.inf


def check_bool(value: object, name: str) -> None:
    """Check that ``value`` is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def check_positive(value: object, name: str) -> float:
    """Check that ``value`` is a finite number above 0; return it as a ``float``."""
    number = real_number(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def check_fraction(value: object, name: str, low_open: bool = False) -> float:
    """Check that ``value`` is a number in [0, 1] (or (0, 1] with ``low_open``); return it as a ``float``."""
    interval = "(0, 1]" if low_open else "[0, 1]"
    number = real_number(value)
    if number is None or not math.isfinite(number) or not (0 < number <= 1 if low_open else 0 <= number <= 1):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return number


def check_random_state(random_state: object) -> None:
    """Check that ``random_state`` is None, an int or a :class:`numpy.random.Generator`."""
    if not (random_state is None or isinstance(random_state, np.random.Generator)
            or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)))):
        raise TypeError(f"random_state must be None, an int or a numpy.random.Generator, got {random_state!r}")
    if isinstance(random_state, numbers.Integral) and random_state < 0:
        raise ValueError(f"random_state must be a non-negative int, got {random_state}")


def check_callable(value: object, name: str, expected: str) -> None:
    """Check that ``value`` is None or callable; ``expected`` describes the call, e.g. ``"(batch) -> batch"``."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable {expected} or None, got {value!r}")


def check_value_range(value_range: object, name: str = "value_range") -> tuple[float, float]:
    """Check a pair ``(low, high)`` of finite numbers with ``low < high``."""
    values = [real_number(v) for v in value_range] if isinstance(value_range, (tuple, list)) else []
    low, high = values if len(values) == 2 else (None, None)
    if low is None or high is None or not math.isfinite(low) or not math.isfinite(high) or not low < high:
        raise ValueError(f"{name} must be a pair (low, high) of finite numbers with low < high, got {value_range!r}")
    return low, high


def check_numeric_array(values: object, name: str) -> np.ndarray:
    """``values`` as a real-valued array: numbers or booleans, never complex, strings or objects."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array, got {type(values).__name__}") from error
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {array.dtype}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


def check_finite_array(values: object, name: str) -> np.ndarray:
    """``values`` as a real-valued array without NaN or infinity (see :func:`check_numeric_array`)."""
    array = check_numeric_array(values, name)
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def check_selection_range(range_min: object, range_max: object, name: str) -> None:
    """Check one selection range: two fractions of the ranking in [0, 1] with ``min <= max``."""
    if check_fraction(range_min, f"{name}_min") > check_fraction(range_max, f"{name}_max"):
        raise ValueError(f"{name}_min ({range_min}) must not exceed {name}_max ({range_max})")


def available_memory() -> int | None:
    """Bytes of memory available to this process, or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(n_bytes: int, name: str, what: str) -> None:
    """Refuse at once a run whose arrays would need more memory than is available.

    Args:
        n_bytes: Bytes the run will hold.
        name: The parameter that sets the size (named in the message).
        what: What the memory is for, e.g. ``"the embeddings of 10**9 masked inputs"``.
    """
    available = available_memory()
    if available is not None and n_bytes > available:
        raise ValueError(f"{name} is too large: {what} need {n_bytes / 2**30:.1f} GiB, but only "
                         f"{available / 2**30:.1f} GiB of memory is available")


def warn(message: str, stacklevel: int = 2) -> None:
    """Issue a :class:`UserWarning` (one place, so tests and users can filter the package's warnings)."""
    warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)


def check_embeddings(embeddings: object, n_rows: int, embedding_length: int | None, noun: str = "inputs"
                     ) -> np.ndarray:
    """A model's output for a batch of ``n_rows`` inputs, checked and promoted to float64 ``(n_rows, D)``.

    Args:
        embeddings: What the model returned.
        n_rows: Number of inputs in the batch.
        embedding_length: The length ``D`` that earlier batches had, or None for the first batch.
        noun: What the inputs are, for messages (``"images"``, ``"texts"``).

    Returns:
        Float64 array ``(n_rows, D)``.
    """
    try:
        embeddings = check_numeric_array(embeddings, "model output")
    except TypeError as error:
        raise TypeError(f"model must return real-valued embeddings (N, D): {error}") from error
    if embeddings.ndim != 2:
        raise ValueError(f"model must return a 2-D array of embeddings (N, D); got shape {embeddings.shape}")
    if embeddings.shape[0] != n_rows:
        raise ValueError(f"model returned {embeddings.shape[0]} embeddings for a batch of {n_rows} {noun}")
    if embedding_length is not None and embeddings.shape[1] != embedding_length:
        raise ValueError(f"model returned embeddings of length {embedding_length} for one batch and "
                         f"{embeddings.shape[1]} for another: its output length must not change")
    embeddings = embeddings.astype(np.float64)
    if not np.all(np.isfinite(embeddings)):
        raise ValueError("model returned NaN or infinite values in its embeddings")
    return embeddings

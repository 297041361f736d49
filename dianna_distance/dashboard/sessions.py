"""A closed browser tab gives its memory back: its session is shut down, and the memory freed is returned.

Streamlit keeps a disconnected session (its session state, uploads, the images it showed, its download buttons'
callables) for ``server.disconnectedSessionTTL`` seconds (120 by default), so that a browser that reconnects finds
it again. When that time is up, Streamlit drops the session from its storage *without shutting it down*
(streamlit/streamlit#12506): its media files, uploaded files and download callables stay referenced by the server's
managers, and the download callables hold the run they download. Every closed tab then kept a run's worth of memory
for good.

:func:`watch`, called at the top of every script run, gives each session a session-scoped resource: Streamlit
releases it when the session disconnects (a documented ``st.cache_resource(scope="session", on_release=...)``
hook), and its release schedules :func:`close_if_gone` on the server's event loop a few seconds *before* the
session would expire. A session still disconnected then is closed as Streamlit closes a session (``shutdown``:
media, uploads and download callables are let go); one that reconnected is left alone.

Freed memory is then handed back to the system (:func:`release_memory`): the server's threads (one per script run,
ONNX Runtime's) allocate from many glibc arenas, which keep freed pages unless ``malloc_trim`` is called.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import sys
import threading
from typing import Any

import streamlit as st

#: Seconds before Streamlit's own expiry of a disconnected session at which it is closed.
MARGIN_S = 5.0

_LOGGER = logging.getLogger(__name__)
_PENDING: dict[str, object] = {}  # session id -> the token of its latest disconnect
_LOCK = threading.Lock()


class SessionWatch:
    """The session-scoped resource of one session: names the session whose disconnect releases it."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id


def grace_seconds() -> float:
    """How long a disconnected session is kept for a reconnect before it is closed: just under Streamlit's TTL."""
    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    return max(0.0, ttl - MARGIN_S)


def _released(watch: SessionWatch) -> None:
    """``on_release`` of the session's resource: at a disconnect, schedule the close; elsewhere, nothing."""
    try:
        loop = asyncio.get_running_loop()  # a disconnect runs on the server's event loop
    except RuntimeError:  # released at shutdown or by a cache clear, off the event loop: nothing to schedule
        return
    token = object()
    with _LOCK:
        _PENDING[watch.session_id] = token
    loop.call_later(grace_seconds(), close_if_gone, watch.session_id, token)


def close_if_gone(session_id: str, token: object | None = None) -> bool:
    """Close the session ``session_id`` unless it reconnected; return whether it was closed.

    Runs on the server's event loop (Streamlit closes sessions there). ``token``: the disconnect that scheduled it;
    a later disconnect of the same session schedules its own close, and this one then does nothing.
    """
    with _LOCK:
        if token is not None and _PENDING.get(session_id) is not token:
            return False
        _PENDING.pop(session_id, None)
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return False
        runtime = Runtime.instance()
        if runtime.is_active_session(session_id):
            return False
        runtime.close_session(session_id)
    except Exception:  # noqa: BLE001 - a Streamlit without this API: the session expires as Streamlit decides
        _LOGGER.debug("could not close the disconnected session %s", session_id, exc_info=True)
        return False
    release_memory()
    return True


@st.cache_resource(scope="session", on_release=_released, show_spinner=False)
def _session_watch(session_id: str) -> SessionWatch:
    return SessionWatch(session_id)


def watch() -> None:
    """Give this script run's session its :class:`SessionWatch` (once per connection; call it on every run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is not None:
        _session_watch(context.session_id)


def _malloc_trim() -> Any:
    """The C library's ``malloc_trim`` (glibc), or None where it has none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_memory() -> None:
    """Collect Python's garbage, then hand the C heap's free pages back to the system (glibc only)."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)

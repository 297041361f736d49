"""A closed browser tab gives its memory back (issue 26): the dashboard's sessions end, with all they hold.

Streamlit drops a disconnected session from its storage after ``server.disconnectedSessionTTL`` without shutting it
down, so the images it showed and the callables of its download buttons (which hold the run they download) stayed
referenced for good. These tests run Streamlit's real server runtime in a fresh process (no browser, no HTTP: a
client object receives the messages) on a small app that uses :func:`dianna_distance.dashboard.sessions.watch` as
the dashboard does, connect sessions, disconnect them, and look at what is still alive.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("streamlit", minversion="1.56")

ROOT = Path(__file__).resolve().parents[1]

APP = """
import numpy as np
import streamlit as st

from dianna_distance.dashboard import sessions

sessions.watch()
run = st.session_state.setdefault("run", np.ones(250_000))  # a run: 2 MB
st.image(np.full((8, 8, 3), 0.5))  # a media file of this session
st.download_button("run", lambda: run.tobytes(), "run.bin", on_click="ignore")  # a callable holding the run
"""

DRIVER = """
import asyncio, gc, json, sys, weakref

from streamlit import config

TTL = float(sys.argv[2])
config.set_option("server.disconnectedSessionTTL", TTL)
config.set_option("server.fileWatcherType", "none")

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.runtime import Runtime, RuntimeConfig
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager


class Client:
    '''Receives a session's messages, as a browser tab would; knows when a script run finished.'''

    def __init__(self):
        self.finished = asyncio.Event()

    def write_forward_msg(self, msg):
        if msg.WhichOneof("type") == "script_finished":
            self.finished.set()

    @property
    def client_context(self):
        return None


async def open_session(runtime):
    client = Client()
    session_id = runtime.connect_session(client, user_info={})
    runtime.handle_backmsg(session_id, BackMsg(rerun_script=ClientState()))
    await asyncio.wait_for(client.finished.wait(), 120)
    return session_id


async def main(scenario):
    runtime = Runtime(RuntimeConfig(script_path=sys.argv[1], media_file_storage=MemoryMediaFileStorage("/media"),
                                    uploaded_file_manager=MemoryUploadedFileManager("/upload"),
                                    session_storage=MemorySessionStorage(ttl_seconds=TTL)))
    await runtime.start()
    sessions, runs = [], []
    for _ in range(3):
        session_id = await open_session(runtime)
        sessions.append(weakref.ref(runtime.get_app_session(session_id)))
        runs.append(weakref.ref(runtime.get_app_session(session_id).session_state["run"]))
        runtime.disconnect_session(session_id)
        if scenario == "reconnect":
            runtime.connect_session(Client(), user_info={}, existing_session_id=session_id)
    await asyncio.sleep(TTL + 2)
    await open_session(runtime)  # the runtime's loop keeps the session it served last until it serves another
    gc.collect()
    result = {"sessions alive": sum(ref() is not None for ref in sessions),
              "runs alive": sum(ref() is not None for ref in runs)}
    runtime.stop()
    await runtime.stopped
    print(json.dumps(result))


asyncio.run(main(sys.argv[3]))
"""


def sessions_left(tmp_path: Path, scenario: str, ttl: float = 6.0) -> dict:
    """Run three sessions of the app on Streamlit's runtime, each disconnected (``scenario`` "close") or
    disconnected and reconnected at once ("reconnect"); after the TTL, how many sessions and runs are alive."""
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
    done = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "app.py"), str(ttl), scenario],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_closed_sessions_are_shut_down_and_free_their_runs_and_download_callables(tmp_path):
    assert sessions_left(tmp_path, "close") == {"sessions alive": 0, "runs alive": 0}


def test_a_session_that_reconnects_keeps_its_run(tmp_path):
    assert sessions_left(tmp_path, "reconnect") == {"sessions alive": 3, "runs alive": 3}

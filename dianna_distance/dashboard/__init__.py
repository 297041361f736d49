"""A Streamlit dashboard: explain a distance, then explore the run (re-selection, significance) without the model.

Start it with ``dianna-distance dashboard`` (needs the ``dashboard`` extra: ``pip install
"dianna-distance[dashboard]"``). :mod:`~dianna_distance.dashboard.app` is the script Streamlit runs; one module per
page (:mod:`~dianna_distance.dashboard.images`, :mod:`~dianna_distance.dashboard.texts`, ...), and
:mod:`~dianna_distance.dashboard.common` holds what they share, and
:mod:`~dianna_distance.dashboard.runfiles` writes and reads run files (from the upload's bytes alone).
"""

PRIMARY = "#7030a0"  # DIANNA's theme colours
SECONDARY_BACKGROUND = "#e4f3f9"
MAX_UPLOAD_MB = 200  # uploads larger than this are refused by Streamlit
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501

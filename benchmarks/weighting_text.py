"""Rank weightings on text: which reaches the paper's converged word scores with the fewest model calls?

The text counterpart of ``weighting.py`` (same method, same tables): all-MiniLM-L6-v2 (int8 ONNX, from its PyPI
wheels) explains the 30-word passage of ``text_benchmark.py`` against its query. ``--pool`` masks of one mask
stream (``random_state=--seed``, ``p_keep`` 0.5, words deleted) are embedded once; the pool's consecutive chunks
of ``--run`` masks are independent runs. For each run, the converged paper scores are the paper's estimator
(``"ranges"``) on every mask outside that run; each weighting's scores from the first 100, 150, ... masks of the
run are correlated (Pearson, over words) with them. The table shows the mean over runs at 250, 500 and 1000 masks
and the masks each weighting needs for a mean correlation of 0.93.

Usage::

    python benchmarks/weighting_text.py                 # pool 8000, runs of 1000 (about 1 minute of model time)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from text_benchmark import QUERY, TEXT  # noqa: E402
from weighting import REPORT_AT, TARGET, correlation, masks_to_reach  # noqa: E402

from dianna_distance.distances import WEIGHTINGS, cosine_distance, rank_weights, selection_weights  # noqa: E402
from dianna_distance.masks import WordMasks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=8000)
    parser.add_argument("--run", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from dianna_distance.models.sentence import load_minilm, minilm_files
    from dianna_distance.text import TextDistanceExplainer, split_words

    encoder, tokenizer = load_minilm(), minilm_files()[1]
    reference = encoder([QUERY])[0]
    explainer = TextDistanceExplainer(n_masks=args.pool, tokenizer=tokenizer, random_state=args.seed, progress=False)
    start = time.perf_counter()
    embeddings = explainer.embed_masked(encoder, TEXT, 0, args.pool)
    seconds = time.perf_counter() - start
    # The masks the explainer drew: the same words, number, p_keep and seed.
    masks = np.asarray(WordMasks(len(split_words(TEXT, tokenizer)), args.pool, 0.5, args.seed)[:], dtype=np.float64)
    distances = cosine_distance(embeddings, reference)
    n_runs = args.pool // args.run
    prefixes = np.arange(100, args.run + 1, 50)
    correlations = np.zeros((len(WEIGHTINGS), n_runs, len(prefixes)))
    everything = np.arange(n_runs * args.run)
    for r in range(n_runs):
        run = np.arange(r * args.run, (r + 1) * args.run)
        outside = np.setdiff1d(everything, run)
        converged = selection_weights(distances[outside], rank_weights(len(outside), "ranges")) @ masks[outside]
        for p, prefix in enumerate(prefixes):
            for w, name in enumerate(WEIGHTINGS):
                weights = selection_weights(distances[run[:prefix]], rank_weights(prefix, name))
                correlations[w, r, p] = correlation(weights @ masks[run[:prefix]], converged)
    mean = correlations.mean(axis=1)
    shown = [n for n in REPORT_AT if n in prefixes]
    print(f"all-MiniLM-L6-v2 int8, {masks.shape[1]} words, pool {args.pool} masks ({seconds:.0f} s of model time), "
          f"{n_runs} runs of {args.run}; mean correlation with the converged paper scores\n")
    print("| weighting | " + " | ".join(f"{n} masks" for n in shown) + f" | masks for {TARGET} |")
    print("|---|" + "---|" * (len(shown) + 1))
    for w, name in enumerate(WEIGHTINGS):
        cells = [f"{mean[w, int(np.flatnonzero(prefixes == n)[0])]:.3f}" for n in shown]
        print(f"| {name} | " + " | ".join(cells) + f" | {masks_to_reach(prefixes, mean[w], TARGET)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

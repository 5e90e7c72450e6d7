"""The ``sklearn-ser`` command."""

from __future__ import annotations

import argparse
import sys


def _demo(args):
    from ._demo import run_demo

    run_demo(
        cache_dir=args.cache_dir,
        n_speakers=args.speakers,
        n_words=args.words,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="sklearn-ser", description="Speech emotion recognition with scikit-learn pipelines."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="classify the emotions of a synthetic corpus under a random and a speaker-independent split",
        description="Write a synthetic TESS-like corpus to the cache folder (once), extract MFCC "
        "features, and report accuracy and balanced accuracy of an SVM under a random and a "
        "speaker-independent split.",
    )
    demo.add_argument("--speakers", type=int, default=4, help="number of speakers (default: 4)")
    demo.add_argument("--words", type=int, default=20, help="number of words per speaker and emotion (default: 20)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the corpus and the folds (default: 0)")
    demo.add_argument("--n-jobs", type=int, default=-1, help="parallel extraction workers (default: all cores)")
    demo.add_argument(
        "--cache-dir",
        default=None,
        help="folder for the corpus and features (default: $SKLEARN_SER_CACHE or ~/.cache/sklearn-ser)",
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    """Entry point of the ``sklearn-ser`` console command."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as exc:
        print(f"sklearn-ser: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""
DenseNet embeddings fused with MFCC statistics
==============================================

The paper's fusion: 3-channel log-Mel "images" (static, delta, delta-delta)
are embedded by a torchvision DenseNet, the embeddings joined with MFCC
statistics and classified by a dense network (the ``densenet-mfcc-fusion``
recipe). It is compared here with the MFCC statistics alone (``svm-mfcc``),
leaving one speaker out. ImageNet weights are downloaded by torchvision on
first use; ``--weights none`` uses a randomly initialised DenseNet, or give
the path of a saved ``state_dict``.

    python examples/densenet_fusion.py
    python examples/densenet_fusion.py --corpus tess:../shared/data/tess --weights imagenet
"""

import argparse
import tempfile

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.evaluation import compare
from sklearn_ser.recipes import get_recipe


def main(argv=None):
    parser = argparse.ArgumentParser(description="DenseNet + MFCC fusion against MFCC statistics alone.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--weights", default="imagenet", help="imagenet, none, or a state_dict path")
    parser.add_argument("--quick", action="store_true", help="a tiny corpus and an untrained DenseNet, smoke test")
    args = parser.parse_args(argv)
    weights = None if args.quick or args.weights.lower() == "none" else args.weights

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=3) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        common = dict(n_jobs=-1, memory=workdir, random_state=0)
        pipelines = {
            "densenet-mfcc-fusion": get_recipe("densenet-mfcc-fusion", weights=weights, **common),
            "svm-mfcc": get_recipe("svm-mfcc", **common),
        }
        if args.quick:
            pipelines["densenet-mfcc-fusion"].set_params(mlp__max_iter=20)
        _, table, _ = compare(pipelines, corpus, protocol="speaker")

    print(f"{len(corpus)} files, leave one speaker out, DenseNet weights: {weights or 'random'}")
    print(table["mean"].unstack("metric").round(3).to_string())
    return table


if __name__ == "__main__":
    main()

"""The names the command line offers, in a module that imports nothing heavy.

``sklearn-ser --help`` and argument errors are answered from these before
NumPy, pandas, librosa or torch are imported; the modules that implement
each choice use the same names.
"""

#: Corpus kinds of ``KIND:PATH`` (the loaders of ``sklearn_ser.datasets.LOADERS``).
CORPUS_KINDS = ("tess", "emodb", "ravdess", "savee", "crema-d", "synthetic", "manifest")

#: Label sets of the corpus loaders: each corpus's own labels, or the shared set of all corpora.
LABEL_SETS = ("original", "unified")

#: Evaluation protocols of ``sklearn_ser.model_selection.protocol_split``.
PROTOCOLS = ("random", "speaker", "text", "speaker+text", "cross-corpus")

"""The ``sklearn-ser`` command."""

from __future__ import annotations

import argparse
import ast
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from ._choices import CORPUS_KINDS, LABEL_SETS, PROTOCOLS
from .export._command import add_export

INTERRUPTED = 130  # the shell's exit status for a command stopped by SIGINT


def _demo(args):
    from ._demo import run_demo

    run_demo(
        cache_dir=args.cache_dir,
        n_speakers=args.speakers,
        n_words=args.words,
        random_state=args.seed,
        n_jobs=args.n_jobs,
        verbose=0 if args.quiet else 1,
    )


def _overrides(args, recipe):
    """Overrides of ``recipe``: ``--set`` assignments, and the common options it accepts."""
    from .recipes import recipe_options

    overrides = _parse_assignments(args.set)
    options = recipe_options(recipe)
    for option in set(options) & {"max_epochs", "random_state", "device", "n_jobs"}:
        if getattr(args, option, None) is not None:
            overrides[option] = getattr(args, option)
    if "verbose" in options and getattr(args, "verbose", False):
        overrides.setdefault("verbose", 1)
    if "memory" in options and hasattr(args, "cache_dir") and not args.no_cache:
        from ._cache import default_cache_dir

        overrides.setdefault("memory", str(Path(args.cache_dir or default_cache_dir()) / "features"))
    if getattr(args, "speech_model", None) is not None:
        if "model" not in options:
            raise ValueError(
                f"--speech-model: recipe {recipe!r} uses no pretrained speech model; the recipes that do: "
                f"{', '.join(_speech_recipes())}."
            )
        overrides["model"] = args.speech_model
    return overrides


def _speech_recipes():
    from .recipes import list_recipes, recipe_options

    return [name for name in list_recipes() if "model" in recipe_options(name)]


def _recipes(args):
    from .recipes import describe_recipe, list_recipes

    names = list_recipes()
    width = max(map(len, names))
    for name in names:
        print(f"{name:{width}}  {describe_recipe(name)}")


def _fetch_model(args):
    from .features import fetch_speech_model

    path = fetch_speech_model(args.name, folder=args.folder)
    print(f"{args.name} is in {path}")
    print(f"Use it offline with --speech-model {args.folder or args.name} (recipes {', '.join(_speech_recipes())}).")


def _parse_assignments(assignments):
    """``["lstm__hidden_size=64", "memory=cache"]`` -> ``{"lstm__hidden_size": 64, "memory": "cache"}``."""
    overrides = {}
    for assignment in assignments or ():
        key, separator, text = assignment.partition("=")
        if not separator or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {assignment!r}.")
        try:
            overrides[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[key] = text
    return overrides


def _fit(args):
    from ._predict import fit_recipe

    fit_recipe(
        args.corpus,
        args.recipe,
        args.out,
        overrides=_overrides(args, args.recipe),
        labels=args.labels,
        speakers=_speaker_list(args.speakers),
        exclude_speakers=_speaker_list(args.exclude_speakers),
        window=args.window,
        hop=args.hop,
        format=args.format,
        out_stream=(lambda line: None) if args.quiet else print,
    )


def _load_corpus(args):
    from ._predict import load_corpora

    return load_corpora(
        args.corpus,
        labels=args.labels,
        speakers=_speaker_list(args.speakers),
        exclude_speakers=_speaker_list(args.exclude_speakers),
    )


def _speaker_list(text):
    """``"F01, F02"`` -> ``["F01", "F02"]``; None stays None."""
    if text is None:
        return None
    speakers = [speaker.strip() for speaker in text.split(",") if speaker.strip()]
    if not speakers:
        raise ValueError(f"Expected comma-separated speaker ids, got {text!r}.")
    return speakers


def _evaluate(args):
    from .evaluation import evaluate
    from .recipes import get_recipe
    from .reports import write_evaluation_report

    corpus = _load_corpus(args)
    pipeline = get_recipe(args.recipe, **_overrides(args, args.recipe))
    result = evaluate(
        pipeline,
        corpus,
        protocol=args.protocol,
        n_splits=args.n_splits,
        keep_estimators=True,
        verbose=not args.quiet,
        name=args.recipe,
    )
    path = write_evaluation_report(
        result,
        args.out,
        title=f"{args.recipe} on {' + '.join(args.corpus)}, {args.protocol} protocol",
        description=_report_description(args, corpus, {args.recipe: pipeline}),
    )
    print(result.summary().round(3).to_string())
    print(f"Report written to {path}")


def _report_description(args, corpus, pipelines):
    """The lines under a report's title: how it was made, on what, and what chance would score."""
    import shlex

    n_labels = corpus["label"].nunique()
    lines = [
        f"- Command: `sklearn-ser {shlex.join(args.argv)}`",
        f"- Corpus: {' + '.join(args.corpus)}: {len(corpus)} files, {n_labels} labels, "
        f"{corpus['speaker'].nunique()} speakers; chance level {1 / n_labels:.1%} balanced accuracy "
        "(a constant or random guess)",
    ]
    for name, pipeline in pipelines.items():
        overrides = _overrides(args, name)
        seed = overrides.get("random_state", "none (the recipe's default)")
        shown = {key: value for key, value in overrides.items() if key not in ("random_state", "memory")}
        lines.append(
            f"- Recipe `{name}`: {len(pipeline.steps)} steps ({', '.join(step for step, _ in pipeline.steps)}); "
            f"options {shown or 'as the recipe sets them'}; seed {seed}"
        )
    return lines


def _compare(args):
    from .evaluation import compare
    from .recipes import get_recipe
    from .reports import write_comparison_report

    corpus = _load_corpus(args)
    names = [name.strip() for name in args.recipes.split(",") if name.strip()]
    if len(names) < 2:
        raise ValueError(f"--recipes needs at least two comma-separated recipe names, got {args.recipes!r}.")
    pipelines = {name: get_recipe(name, **_overrides(args, name)) for name in names}
    results, table, tests = compare(
        pipelines, corpus, protocol=args.protocol, n_splits=args.n_splits, keep_estimators=True, verbose=not args.quiet
    )
    path = write_comparison_report(
        results,
        table,
        tests,
        args.out,
        title=f"{', '.join(names)} on {' + '.join(args.corpus)}, {args.protocol} protocol",
        description=_report_description(args, corpus, pipelines),
    )
    print(table["mean"].unstack("metric").round(3).to_string())
    print(f"Report written to {path}")


def _search(args):
    import sklearn

    from ._routing import consumed
    from .datasets import corpus_arrays
    from .model_selection import OptunaSearch, make_storage, protocol_split
    from .recipes import get_recipe

    storage = make_storage(args.storage)  # a storage that cannot be used is named before any work
    corpus = _load_corpus(args)
    overrides = _overrides(args, args.recipe)
    cv, groups = protocol_split(corpus, args.protocol, n_splits=args.n_splits)
    search = OptunaSearch(
        get_recipe(args.recipe, **overrides),
        n_trials=args.n_trials,
        timeout=args.timeout,
        cv=cv,
        scoring=args.scoring,
        storage=storage,
        study_name=args.study,
        refit=args.out is not None,
        random_state=args.sampler_seed,
        verbose=0 if args.quiet else 1,
    )
    X, y, metadata = corpus_arrays(corpus)
    with sklearn.config_context(enable_metadata_routing=True):
        search.fit(X, y, **consumed(search, "fit", {**metadata, "groups": groups}))
    study = search.study_
    finished = [trial for trial in study.trials if trial.state.is_finished()]
    print(f"Study {study.study_name!r}: {len(finished)} finished trials ({len(study.trials)} in all).")
    print(f"Best {args.scoring}: {search.best_score_:.4f} (trial {search.best_trial_.number})")
    for key, value in search.best_params_.items():
        print(f"  {key} = {value!r}")
    if args.plots:
        import matplotlib.pyplot as plt

        from .plotting import plot_search, save_figure

        for name, figure in plot_search(study).items():
            print(f"Figure written to {save_figure(figure, Path(args.plots) / f'search_{name}.png')}")
            plt.close(figure)
    if args.out:
        from ._files import dump_atomically

        dump_atomically(search.best_estimator_, args.out)
        print(f"Best pipeline, refitted on all {len(corpus)} files, saved to {args.out}")


def _predict(args):
    from ._files import write_text_atomically
    from ._predict import predict_files

    speaker_of = None
    if args.speakers_csv is not None:
        from ._speaker_ids import speakers_from_csv

        speaker_of = speakers_from_csv(args.speakers_csv)
    elif args.speaker_pattern is not None:
        from ._speaker_ids import speakers_from_pattern

        speaker_of = speakers_from_pattern(args.speaker_pattern)
    progress = False if args.quiet else (True if args.verbose else None)
    frame, failures = predict_files(
        args.model, args.inputs, speaker=args.speaker, speaker_of=speaker_of, progress=progress
    )
    if args.out:
        write_text_atomically(args.out, frame.to_csv(index=False), replaces="table")
    else:
        print(frame.to_csv(index=False), end="")
    for file, reason in failures.items():
        named = reason if file in reason else f"'{file}' is {reason}"
        print(f"sklearn-ser predict: skipped: {named}", file=sys.stderr)
    if failures:
        print(f"sklearn-ser predict: {len(frame)} files predicted, {len(failures)} failed.", file=sys.stderr)
        return 1
    return None


def _timeline(args):
    import importlib.util

    from ._files import write_text_atomically
    from .timeline import predict_timeline

    if args.reference:  # a malformed reference is named before the recording is read
        from .timeline._reference import read_reference

        read_reference(args.reference)
    vad = None if args.vad == "none" else args.vad
    if vad is None and args.speech_out:
        raise ValueError("--speech-out marks what the voice activity detector finds: it needs --vad energy or silero.")
    if vad == "silero" and importlib.util.find_spec("silero_vad") is None:
        raise ValueError("--vad silero needs the silero-vad package: pip install 'sklearn-ser[vad]'.")
    frame = predict_timeline(
        args.model,
        args.file,
        window=args.window,
        hop=args.hop,
        vad=vad,
        energy_threshold=args.energy_threshold,
        smooth=args.smooth,
        speaker=args.speaker,
        enrol=_enrolment_files(args),
        verbose=0 if args.quiet else int(args.verbose or sys.stderr.isatty()),
    )
    if args.out:
        write_text_atomically(args.out, frame.to_csv(index=False), replaces="table")
    else:
        print(frame.to_csv(index=False), end="")
    if args.reference:
        from .timeline import timeline_agreement

        agreement, n_windows = timeline_agreement(frame, args.reference)
        if n_windows:
            print(f"Agreement with {args.reference}: {agreement:.1%} of {n_windows} speech windows", file=sys.stderr)
        else:
            print(f"No speech window lies in a segment of {args.reference}: nothing to compare", file=sys.stderr)
    stretches = None
    if vad is not None and (args.speech_out or args.plot):
        from .timeline import speech_segments

        stretches = speech_segments(args.file, vad=vad, energy_threshold=args.energy_threshold)
        if args.speech_out:
            write_text_atomically(args.speech_out, stretches.to_csv(index=False), replaces="table")
    if args.plot:
        from .plotting import plot_timeline, save_figure

        figure = plot_timeline(frame, args.file, reference=args.reference, speech=stretches)
        print(f"Figure written to {save_figure(figure, args.plot)}", file=sys.stderr)


def _enrolment_files(args):
    """The audio files of --enrol (folders searched), or None."""
    if not args.enrol:
        return None
    if args.speaker is None:
        raise ValueError("--enrol gives a speaker's utterances: name the speaker with --speaker.")
    from ._predict import audio_files

    files, problems = audio_files(args.enrol)
    if problems or not files:
        raise ValueError(f"--enrol: {next(iter(problems.values()), 'no audio file found')}.")
    return files


def _serve(args):
    import importlib.util

    missing = [name for name in ("fastapi", "uvicorn", "python_multipart") if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"serve needs {', '.join(missing)}: pip install 'sklearn-ser[serve]'.")
    import uvicorn

    from .serve import create_app

    app = create_app(
        args.model,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_duration=args.max_duration,
        max_concurrent=args.max_concurrent,
        queue_timeout=args.queue_timeout,
        cors_origins=args.cors_origin,
    )
    if not args.quiet:
        served = app.state.served
        print(
            f"Serving {args.model} ({served.recipe or type(served.pipeline).__name__}, {len(served.classes)} classes) "
            f"on http://{args.host}:{args.port}/ (API docs at /docs); Ctrl-C stops it.",
            file=sys.stderr,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning")


def _reproduce_paper(args):
    from .paper import reproduce_paper

    reproduce_paper(
        args.tess,
        args.out,
        epochs=args.epochs,
        random_state=args.random_state if args.random_state is not None else 0,
        n_jobs=args.n_jobs if args.n_jobs is not None else -1,
        text_splits=args.text_splits,
    )


def _add_corpus_options(command):
    command.add_argument(
        "--corpus",
        required=True,
        action="append",
        help=f"KIND:PATH with KIND one of {', '.join(sorted(CORPUS_KINDS))}, e.g. tess:data/tess, synthetic:DIR or "
        "manifest:files.csv (columns path,label[,speaker][,text]); "
        "repeat it to join corpora (as the cross-corpus protocol needs)",
    )
    command.add_argument(
        "--labels",
        default=LABEL_SETS[0],
        choices=LABEL_SETS,
        help="the corpus's own labels, or the cross-corpus label set (default: %(default)s)",
    )
    command.add_argument(
        "--speakers", metavar="IDS", default=None, help="use only these speakers' files (comma-separated ids)"
    )
    command.add_argument(
        "--exclude-speakers",
        metavar="IDS",
        default=None,
        help="leave these speakers' files out, e.g. to keep them for testing (comma-separated ids)",
    )


def _add_recipe_option(command, *, example):
    command.add_argument(
        "--recipe", required=True, help=f"recipe name (sklearn_ser.recipes.list_recipes()), e.g. {example}"
    )


def _add_protocol_options(command, *, purpose):
    command.add_argument(
        "--protocol",
        default="speaker",
        choices=PROTOCOLS,
        help=f"{purpose} (default: %(default)s, leave one speaker out)",
    )
    command.add_argument("--n-splits", type=int, default=5, help="folds of the random and text protocols")


def _add_training_options(command, *, epochs="training epochs of neural recipes (others ignore it)"):
    command.add_argument("--max-epochs", type=int, default=None, help=epochs)
    command.add_argument("--random-state", type=int, default=None, help="seed of the models")
    command.add_argument("--device", default=None, help="torch device (default: auto, CUDA when present)")
    command.add_argument("--n-jobs", type=int, default=None, help="parallel feature extraction workers")
    command.add_argument(
        "--speech-model",
        metavar="PATH_OR_ID",
        default=None,
        help="the pretrained speech encoder of the recipes that use one (ssl-best, ssl-svm, ssl-lstm): a folder or "
        "a Hugging Face id in the local cache (see fetch-model); default: the recipe's, openai/whisper-base",
    )
    command.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a recipe option or step parameter, e.g. lstm__hidden_size=64",
    )


def _add_cache_option(command, *, help):
    command.add_argument(
        "--cache-dir", default=None, help=f"{help} (default: $SKLEARN_SER_CACHE or ~/.cache/sklearn-ser)"
    )


def _add_feature_cache_options(command):
    _add_cache_option(command, help="features are cached in its 'features' folder, and reused by every command")
    command.add_argument("--no-cache", action="store_true", help="compute every feature again, caching nothing")


def _add_verbosity_options(command):
    verbosity = command.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="progress bars for feature extraction and training epochs too"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines: results, warnings and errors only"
    )


# What an output folder's files may replace, by the kind of folder: a file name pattern and the kind of its files.
_FOLDER_CONTENTS = {
    "report folder": [("report.md", "report"), ("*.csv", "table"), ("*.png", "figure")],
    "figure folder": [("*.png", "figure")],
}


def _add_output(command, name, *, kind, help, required=False):
    """An output option, checked before any work.

    ``kind`` is the kind of file written (``"model"``, ``"table"``,
    ``"figure"``: see :data:`sklearn_ser._file_kinds.KINDS`) or of folder
    (a key of :data:`_FOLDER_CONTENTS`). An existing file of another kind is
    replaced only with ``--force``, which every command with an output has.
    """
    command.add_argument(f"--{name}", required=required, default=None, help=help)
    outputs = dict(command.get_default("outputs") or {})
    if not outputs:
        command.add_argument(
            "--force",
            action="store_true",
            help="replace existing output files even if they are not of the kind this command writes",
        )
    outputs[name] = kind
    command.set_defaults(outputs=outputs)


def _add_demo(commands):
    demo = commands.add_parser(
        "demo",
        help="classify the emotions of a synthetic corpus under a random and a speaker-independent split",
        description="Write a synthetic TESS-like corpus to the cache folder (once), extract MFCC "
        "features, and report accuracy and balanced accuracy of an SVM under a random and a "
        "speaker-independent split.",
    )
    demo.add_argument("--speakers", type=int, default=4, help="number of speakers (default: %(default)s)")
    demo.add_argument("--words", type=int, default=20, help="words per speaker and emotion (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the corpus and the folds (default: 0)")
    demo.add_argument("--n-jobs", type=int, default=-1, help="parallel extraction workers (default: all cores)")
    _add_cache_option(demo, help="folder for the corpus and features")
    demo.set_defaults(run=_demo)


def _add_fit(commands):
    fit = commands.add_parser(
        "fit",
        help="fit a recipe on a corpus and save the fitted pipeline (joblib, or the safe format)",
        description="Fit a named recipe (see sklearn_ser.recipes.list_recipes()) on every file of a "
        "corpus and save the fitted pipeline with joblib, or with --format safe in a file that loads without "
        "running code from it.",
    )
    _add_corpus_options(fit)
    _add_recipe_option(fit, example="lstm-logmel")
    _add_output(
        fit,
        "out",
        kind="fitted",
        required=True,
        help="where to save the fitted model (.joblib, or .pt with --format safe)",
    )
    fit.add_argument(
        "--format",
        choices=("joblib", "safe"),
        default="joblib",
        help="joblib: a pickle, which runs code when loaded; safe: tensors and plain values only, rebuilt from "
        "trusted classes (sklearn_ser.persistence.save_safe), which predict, timeline and serve read too "
        "(default: %(default)s)",
    )
    _add_training_options(fit)
    _add_feature_cache_options(fit)
    fit.add_argument(
        "--window",
        type=float,
        default=None,
        metavar="SEC",
        help="train on windows of this length cut from every clip, as 'timeline --window' cuts a recording "
        "(a model trained on whole clips classifies much shorter windows poorly)",
    )
    fit.add_argument(
        "--hop",
        type=float,
        default=None,
        metavar="SEC",
        help="seconds between training windows (default: half --window)",
    )
    fit.set_defaults(run=_fit)


def _add_predict(commands):
    predict = commands.add_parser(
        "predict",
        help="predict the emotion of audio files with a saved model",
        description="Write a CSV with one row per audio file: file, predicted label and one probability "
        "column per class. Directories are searched for audio files. Files that cannot be read are reported "
        "on standard error and the status is then 1. A joblib model file runs code when loaded: only load "
        "those from sources you trust; a file of 'fit --format safe' runs none.",
    )
    predict.add_argument("model", help="a model saved by 'sklearn-ser fit' (joblib or safe format)")
    predict.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files or folders of them")
    speakers = predict.add_mutually_exclusive_group()
    speakers.add_argument(
        "--speaker",
        metavar="ID",
        help="the speaker of every file: a model that normalizes per speaker (best, ssl-best, lstm-best, svm-best, "
        "fusion, ssl-svm, ssl-lstm, the recipes with speaker_normalization) then standardizes them by their own "
        "statistics, as in training (by the stored ones for a training speaker's id); without it, it falls back "
        "to other statistics, warns, and loses much of its accuracy on new speakers.",
    )
    speakers.add_argument(
        "--speakers-csv",
        metavar="CSV",
        help="the speaker of each file, from a table with the columns path,speaker (paths relative to the table's "
        "folder); each speaker's files are predicted together, and a file the table does not list is reported",
    )
    speakers.add_argument(
        "--speaker-pattern",
        metavar="REGEX",
        help="the speaker of each file, from its path: the group named 'speaker' of a regular expression, e.g. "
        "'(?P<speaker>[^/_]+)_[^/]*$' for files named SPEAKER_rest.wav",
    )
    _add_output(predict, "out", kind="table", help="CSV file to write (default: standard output)")
    predict.set_defaults(run=_predict)


def _add_timeline(commands):
    timeline = commands.add_parser(
        "timeline",
        help="the emotion over time of a long recording, window by window, with a saved model",
        description="Cut a recording of any length into windows of --window seconds every --hop seconds, "
        "read in blocks (memory does not grow with its length), skip the windows without speech, and write a "
        "CSV with one row per window: start, end (seconds), speech, the predicted label and one probability "
        "column per class. A joblib model file runs code when loaded: only load those from sources you trust; a "
        "file of 'fit --format safe' runs none.",
    )
    timeline.add_argument("model", help="a model saved by 'sklearn-ser fit' (joblib or safe format)")
    timeline.add_argument("file", help="the recording (any format libsndfile reads: WAV, FLAC, OGG, MP3, ...)")
    timeline.add_argument("--window", type=float, default=2.0, help="window length in seconds (default: %(default)s)")
    timeline.add_argument(
        "--hop", type=float, default=1.0, help="seconds between window starts, at most --window (default: %(default)s)"
    )
    timeline.add_argument(
        "--vad",
        default="energy",
        choices=("energy", "silero", "none"),
        help="voice activity detection: frame energy, the Silero model (pip install 'sklearn-ser[vad]') or none "
        "(default: %(default)s)",
    )
    timeline.add_argument(
        "--energy-threshold",
        type=float,
        default=-40.0,
        metavar="DBFS",
        help="level from which a frame is voiced with --vad energy (default: %(default)s dBFS)",
    )
    timeline.add_argument(
        "--smooth", type=int, default=None, metavar="K", help="average the probabilities over K (odd) speech windows"
    )
    _add_output(timeline, "out", kind="table", help="CSV file to write (default: standard output)")
    _add_output(timeline, "plot", kind="figure", help="image of the timeline under the waveform (.png, .pdf, .svg)")
    _add_output(
        timeline,
        "speech-out",
        kind="table",
        help="CSV of the stretches of speech (start,end) at the detector's own resolution (10 ms for energy), "
        "independent of --window; --plot shades them",
    )
    timeline.add_argument(
        "--speaker",
        metavar="ID",
        default=None,
        help="the recording's speaker, for a model that normalizes per speaker: its statistics are those of --enrol "
        "files, or of the recording's own speech windows (a training speaker's id uses the stored ones)",
    )
    timeline.add_argument(
        "--enrol",
        nargs="+",
        metavar="FILE_OR_DIR",
        default=None,
        help="utterances of --speaker (files or folders) whose statistics normalize the windows",
    )
    timeline.add_argument(
        "--reference",
        metavar="CSV",
        default=None,
        help="reference labels of the recording (columns start,end,label, in seconds): the agreement of the speech "
        "windows with them is printed, and --plot draws them under the predictions",
    )
    timeline.set_defaults(run=_timeline)


def _add_evaluate_and_compare(commands):
    for name, run, help_text in [
        ("evaluate", _evaluate, "cross-validate one recipe under a protocol and write a Markdown report"),
        ("compare", _compare, "cross-validate several recipes on the same folds and write a Markdown report"),
    ]:
        command = commands.add_parser(name, help=help_text, description=help_text + ", with figures.")
        _add_corpus_options(command)
        if name == "evaluate":
            _add_recipe_option(command, example="svm-mfcc")
        else:
            command.add_argument(
                "--recipes", required=True, help="comma-separated recipe names, e.g. svm-mfcc,lstm-logmel"
            )
        _add_protocol_options(command, purpose="evaluation protocol")
        _add_output(command, "out", kind="report folder", required=True, help="folder for report.md and its figures")
        _add_training_options(command)
        _add_feature_cache_options(command)
        command.set_defaults(run=run)


def _add_search(commands):
    search = commands.add_parser(
        "search",
        help="search a recipe's parameters with Optuna, pruning bad trials; several workers can share a study",
        description="Run an Optuna search over a recipe's default space (architecture, training and feature "
        "parameters), cross-validating every trial under a protocol. Start the same command on several "
        "workers with one --storage and --study to share the trials; an interrupted worker loses no finished "
        "trial, and rerunning the command continues the study up to --n-trials finished trials.",
    )
    _add_corpus_options(search)
    _add_recipe_option(search, example="lstm-logmel")
    search.add_argument(
        "--storage",
        default=None,
        help="journal:PATH (several processes on one machine), or a database URL such as sqlite:///f.db or "
        "postgresql://user:password@host/db (many machines); default: in memory, this process only",
    )
    search.add_argument(
        "--study",
        default=None,
        help="study name (required with --storage); workers with the same storage and name share it",
    )
    search.add_argument(
        "--n-trials", type=int, default=20, help="finished trials the study should hold (default: %(default)s)"
    )
    search.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    _add_protocol_options(search, purpose="folds of every trial")
    search.add_argument(
        "--scoring", default="balanced_accuracy", help="scikit-learn scorer to maximize (default: %(default)s)"
    )
    search.add_argument("--sampler-seed", type=int, default=None, help="seed of the TPE sampler (one per worker)")
    _add_training_options(search, epochs="most training epochs of neural recipes (others ignore it)")
    _add_feature_cache_options(search)
    _add_output(
        search, "plots", kind="figure folder", help="folder for the figures of the search (history, importances, ...)"
    )
    _add_output(
        search, "out", kind="model", help="refit the best parameters on the whole corpus and save the pipeline here"
    )
    search.set_defaults(run=_search)


def _add_recipes(commands):
    recipes = commands.add_parser(
        "recipes",
        help="list the recipes, one line each: what it is, how it trains, what it needs",
        description="List the named pipelines (sklearn_ser.recipes) that fit, evaluate, compare and search take "
        "as --recipe, each with what it is, whether it trains a neural network, and what it needs beyond the base "
        "install (pretrained weights, optional packages).",
    )
    recipes.set_defaults(run=_recipes)


def _add_fetch_model(commands):
    fetch = commands.add_parser(
        "fetch-model",
        help="download a pretrained speech encoder (the only command that uses the network)",
        description="Download a pretrained speech encoder from the Hugging Face Hub (config, feature extractor "
        "settings and weights only) into the Hugging Face cache or --folder, so that the recipes that use one "
        "(--speech-model) run offline. Nothing else in sklearn-ser downloads a model.",
    )
    fetch.add_argument("name", help="a Hugging Face model id, e.g. openai/whisper-base")
    fetch.add_argument("--folder", default=None, help="where to put it (default: the Hugging Face cache)")
    fetch.set_defaults(run=_fetch_model)


def _add_serve(commands):
    serve = commands.add_parser(
        "serve",
        help="serve a fitted model over HTTP, with a page to use it from a browser",
        description="Load a model file (written by 'sklearn-ser fit' or joblib.dump, which runs code when "
        "loaded: serve only files you trust; or by 'fit --format safe', which runs none) and answer POST /predict "
        "and POST /timeline with JSON, GET /model and "
        "GET /health; GET / is a page to upload or record audio, /docs the API documentation. Needs "
        "pip install 'sklearn-ser[serve]'.",
    )
    serve.add_argument("model", help="the model file (joblib or safe format)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument(
        "--max-upload-mb", type=float, default=50.0, help="largest request body in MB; larger gets 413 (default: 50)"
    )
    serve.add_argument("--max-duration", type=float, default=600.0, help="longest recording in seconds (default: 600)")
    serve.add_argument(
        "--max-concurrent", type=int, default=None, help="predictions at the same time (default: the CPU cores)"
    )
    serve.add_argument(
        "--queue-timeout",
        type=float,
        default=30.0,
        help="seconds a request waits for a free prediction slot before it gets 503 (default: 30)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        help="an origin whose pages may call the service (CORS), e.g. https://lab.example.org; repeatable",
    )
    serve.set_defaults(run=_serve)


def _add_reproduce_paper(commands):
    paper = commands.add_parser(
        "reproduce-paper",
        help="reproduce 'Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition' on TESS",
        description="Train the paper's proposed and traditional LSTMs and SVM baselines on TESS under a random "
        "80/20 split (the paper's likely protocol), speaker-independent and word-independent protocols, and "
        "write a Markdown report with the paper's tables (per-class scores, accuracy per epoch) and figures.",
    )
    paper.add_argument("--tess", required=True, help="path to the TESS corpus")
    _add_output(paper, "out", kind="report folder", required=True, help="folder for report.md, figures and CSV tables")
    paper.add_argument("--epochs", type=int, default=100, help="LSTM training epochs (default: 100, as the paper)")
    paper.add_argument("--text-splits", type=int, default=5, help="folds of the word-independent protocol")
    paper.add_argument("--random-state", type=int, default=None, help="seed of the split and models (default: 0)")
    paper.add_argument("--n-jobs", type=int, default=None, help="feature extraction workers (default: all cores)")
    paper.set_defaults(run=_reproduce_paper)


def build_parser():
    """The ``sklearn-ser`` argument parser: one sub-command per job."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="sklearn-ser", description="Speech emotion recognition with scikit-learn pipelines."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_demo,
        _add_fit,
        _add_predict,
        _add_timeline,
        _add_evaluate_and_compare,
        _add_search,
        _add_recipes,
        _add_fetch_model,
        _add_serve,
        add_export,
        _add_reproduce_paper,
    ):
        add(commands)
    for command in commands.choices.values():
        _add_verbosity_options(command)
    return parser


def main(argv=None):
    """Entry point of the ``sklearn-ser`` console command."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from ._file_kinds import overwriting_allowed

    try:
        with overwriting_allowed(getattr(args, "force", False)):
            _check_outputs(args)
            _check_corpus_paths(args)
            with _warnings_as_lines(args.command):
                status = args.run(args)
    except BrokenPipeError:  # the reader of standard output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError) as exc:
        print(f"sklearn-ser: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        kept = "; the study keeps its finished trials" if getattr(args, "storage", None) else ""
        print(f"sklearn-ser {args.command}: interrupted, nothing was saved{kept}.", file=sys.stderr)
        return INTERRUPTED
    return status or 0


@contextmanager
def _warnings_as_lines(command):
    """Warnings on standard error as one line each, once per message, naming the command, not a source line."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text not in seen:
            seen.add(text)
            print(f"sklearn-ser {command}: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _check_corpus_paths(args):
    """Refuse a corpus that is not there before anything heavy is imported or computed."""
    for spec in getattr(args, "corpus", None) or ():
        kind, separator, path = spec.partition(":")
        if not separator or kind not in CORPUS_KINDS or not path:
            continue  # the loader names what is wrong with the specification itself
        where = Path(path).expanduser()
        if kind == "synthetic":
            if where.exists() and not where.is_dir():
                raise ValueError(f"--corpus {spec}: {where} is a file; synthetic:PATH names the corpus folder.")
        elif kind == "manifest":
            if not where.is_file():
                raise ValueError(f"--corpus {spec}: no manifest file {where} (a CSV with path,label[,speaker]).")
        elif not where.is_dir():
            raise ValueError(f"--corpus {spec}: no folder {where}.")


def _check_outputs(args):
    """Refuse outputs that could not be written, or would replace a file of another kind, before any work starts."""
    from ._file_kinds import check_replaceable
    from ._files import check_writable, check_writable_folder

    for name, kind in (getattr(args, "outputs", None) or {}).items():
        path = getattr(args, name.replace("-", "_"))
        if path is None:
            continue
        option = f"--{name}"
        if kind not in _FOLDER_CONTENTS:
            check_writable(path, option=option, kind=kind)
            continue
        check_writable_folder(path, option=option)
        for pattern, file_kind in _FOLDER_CONTENTS[kind]:
            for existing in sorted(Path(path).glob(pattern)):
                check_replaceable(existing, file_kind, option=option)


if __name__ == "__main__":
    sys.exit(main())

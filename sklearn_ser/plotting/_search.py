"""Optuna's figures of a search."""

from __future__ import annotations

import warnings

import numpy as np


def plot_search(study):
    """Optuna's matplotlib figures of a search: history, importances, learning curves.

    Parameters
    ----------
    study : optuna.Study or OptunaSearch
        A study, or a fitted :class:`~sklearn_ser.model_selection.OptunaSearch`
        (its ``study_``).

    Returns
    -------
    figures : dict of str to matplotlib.figure.Figure
        ``"history"``: score of every trial and the best so far
        (``optuna.visualization.matplotlib.plot_optimization_history``);
        ``"importances"``: importance of each parameter, by Optuna's default
        evaluator (``plot_param_importances``), when at least two trials completed
        with different parameters; ``"intermediate_values"``: the scores
        reported to the pruner, per epoch or fold, of every trial
        (``plot_intermediate_values``). Optuna draws them with ``pyplot``:
        close them (``matplotlib.pyplot.close(fig)``) once saved.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import optuna
    >>> from sklearn_ser.plotting import plot_search
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    >>> study.optimize(lambda trial: -(trial.suggest_float("x", -1, 1) ** 2), n_trials=8)
    >>> sorted(plot_search(study))
    ['history', 'importances', 'intermediate_values']
    """
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    study = getattr(study, "study_", study)
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    plots = {"history": optuna_plots.plot_optimization_history}
    if len({tuple(sorted(trial.params.items())) for trial in completed}) >= 2:
        plots["importances"] = optuna_plots.plot_param_importances
    plots["intermediate_values"] = optuna_plots.plot_intermediate_values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return {name: _figure_of(plot(study)) for name, plot in plots.items()}


def _figure_of(axes):
    axes = np.ravel(axes)[0] if isinstance(axes, np.ndarray) else axes
    return axes.figure

"""Transformers whose output is a table although their input is audio or sequences."""

from __future__ import annotations

from sklearn.utils._set_output import _get_container_adapter


class TableOutputMixin:
    """``set_output`` for transformers that return a 2-D table.

    Their input (audio, or feature sequences) is not a table, and their base
    classes switch scikit-learn's automatic output wrapping off. This mixin,
    placed left of them, makes ``set_output(transform="pandas")`` (or
    ``"polars"``) apply again: ``transform`` passes its table through
    :meth:`_as_table`, which wraps it in the configured container with
    ``get_feature_names_out()`` as columns. Outputs that are not tables
    (sequences) are returned as they are.
    """

    def set_output(self, *, transform=None):
        """Set the output container of :meth:`transform` and :meth:`fit_transform`.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            Container of the table output; None leaves the configuration
            unchanged. Sequence outputs are never wrapped.

        Returns
        -------
        self : estimator instance
        """
        if transform is not None:
            # The attribute scikit-learn's own set_output writes and its container adapters read.
            self._sklearn_output_config = {**getattr(self, "_sklearn_output_config", {}), "transform": transform}
        return self

    def _as_table(self, table, X):
        """``table`` in the configured output container (a DataFrame under ``"pandas"``)."""
        adapter = _get_container_adapter("transform", self)
        if adapter is None:
            return table
        return adapter.create_container(table, X, columns=self.get_feature_names_out)

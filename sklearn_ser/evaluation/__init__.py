"""Cross-validated evaluation under honest protocols, and comparison of models."""

from ._evaluate import METRICS, EvaluationResult, compare, evaluate

__all__ = ["METRICS", "EvaluationResult", "compare", "evaluate"]

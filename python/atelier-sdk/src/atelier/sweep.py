"""Sweep search spaces, sampling and early termination, as ``azure.ai.ml.sweep`` names them.

Bind an expression to a command's input and call ``.sweep(...)``::

    job_for_sweep = job(learning_rate=Uniform(min_value=0.01, max_value=0.9))
    sweep_job = job_for_sweep.sweep(primary_metric="accuracy", goal="Maximize",
                                    sampling_algorithm="random")
    sweep_job.set_limits(max_total_trials=8, max_concurrent_trials=2)
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .entities._base import drop_none


class SweepDistribution:
    """A search-space expression."""

    type = ""

    def __init__(self, **values: Any) -> None:
        self._values = values

    def _search_space(self) -> Dict[str, Any]:
        return drop_none({"type": self.type, **self._values})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"


class Choice(SweepDistribution):
    type = "choice"

    def __init__(self, values: List[Any]) -> None:
        super().__init__(values=list(values))


class Randint(SweepDistribution):
    type = "randint"

    def __init__(self, upper: int) -> None:
        super().__init__(upper=upper)


class Uniform(SweepDistribution):
    type = "uniform"

    def __init__(self, min_value: float, max_value: float) -> None:
        super().__init__(min_value=min_value, max_value=max_value)


class LogUniform(SweepDistribution):
    type = "loguniform"

    def __init__(self, min_value: float, max_value: float) -> None:
        super().__init__(min_value=min_value, max_value=max_value)


class QUniform(SweepDistribution):
    type = "quniform"

    def __init__(self, min_value: float, max_value: float, q: float) -> None:
        super().__init__(min_value=min_value, max_value=max_value, q=q)


class QLogUniform(SweepDistribution):
    type = "qloguniform"

    def __init__(self, min_value: float, max_value: float, q: float) -> None:
        super().__init__(min_value=min_value, max_value=max_value, q=q)


class Normal(SweepDistribution):
    type = "normal"

    def __init__(self, mu: float, sigma: float) -> None:
        super().__init__(mu=mu, sigma=sigma)


class LogNormal(SweepDistribution):
    type = "lognormal"

    def __init__(self, mu: float, sigma: float) -> None:
        super().__init__(mu=mu, sigma=sigma)


class QNormal(SweepDistribution):
    type = "qnormal"

    def __init__(self, mu: float, sigma: float, q: float) -> None:
        super().__init__(mu=mu, sigma=sigma, q=q)


class QLogNormal(SweepDistribution):
    type = "qlognormal"

    def __init__(self, mu: float, sigma: float, q: float) -> None:
        super().__init__(mu=mu, sigma=sigma, q=q)


class EarlyTerminationPolicy:
    type = ""

    def __init__(self, *, evaluation_interval: Optional[int] = None, delay_evaluation: Optional[int] = None,
                 **values: Any) -> None:
        self._values = {"evaluation_interval": evaluation_interval, "delay_evaluation": delay_evaluation, **values}

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": self.type, **self._values})


class BanditPolicy(EarlyTerminationPolicy):
    type = "bandit"

    def __init__(self, *, slack_factor: Optional[float] = None, slack_amount: Optional[float] = None,
                 evaluation_interval: Optional[int] = None, delay_evaluation: Optional[int] = None) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation,
                         slack_factor=slack_factor, slack_amount=slack_amount)


class MedianStoppingPolicy(EarlyTerminationPolicy):
    type = "median_stopping"


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    type = "truncation_selection"

    def __init__(self, *, truncation_percentage: Optional[int] = None, evaluation_interval: Optional[int] = None,
                 delay_evaluation: Optional[int] = None) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation,
                         truncation_percentage=truncation_percentage)


class RandomSamplingAlgorithm:
    def __init__(self, *, seed: Optional[int] = None, rule: Optional[str] = None) -> None:
        self.seed, self.rule = seed, rule

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": "random", "seed": self.seed, "rule": self.rule})


class GridSamplingAlgorithm:
    def _to_dict(self) -> Dict[str, Any]:
        return {"type": "grid"}


class BayesianSamplingAlgorithm:
    def _to_dict(self) -> Dict[str, Any]:
        return {"type": "bayesian"}


__all__ = [
    "Choice", "Randint", "Uniform", "LogUniform", "QUniform", "QLogUniform", "Normal", "LogNormal", "QNormal",
    "QLogNormal", "BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy", "RandomSamplingAlgorithm",
    "GridSamplingAlgorithm", "BayesianSamplingAlgorithm", "SweepDistribution",
]

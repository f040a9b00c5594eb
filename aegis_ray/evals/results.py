"""What an eval produces: one `SampleResult` per (sample, epoch), and `MetricValue`s over them.

Shared by the metrics (which read results), the eval log (which stores both) and the regression
gate (which compares metric values), so none of those imports another for its types.
"""

from __future__ import annotations

from pydantic import Field

from aegis_ray.config import Price
from aegis_ray.evals.dataset import Target
from aegis_ray.evals.scorers import Score
from aegis_ray.model_ref import ModelName
from aegis_ray.types import Frozen


class SampleError(Frozen):
    type: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> SampleError:
        return cls(type=type(error).__name__, message=str(error))


class SampleResult(Frozen):
    sample_id: str
    epoch: int = Field(default=1, ge=1)
    input: str | None = None
    target: Target = None
    output: str | None = None
    scores: dict[str, Score] = Field(default_factory=dict, description="By scorer name.")
    cost_usd: float = Field(default=0.0, ge=0)
    latency_s: float | None = Field(default=None, ge=0)
    model: ModelName | None = Field(default=None, description="The model of the chain that answered.")
    simulated: bool = False
    confidence: float | None = Field(default=None, ge=0, le=1, description="The solver's (a verification's).")
    abstained: bool = Field(default=False, description="The solver abstained (its output is empty).")
    job_id: str | None = Field(default=None, description="The factory job that answered it.")
    attempts: int | None = Field(default=None, ge=0, description="Attempts that job took (1: answered once).")
    batch_id: str | None = Field(default=None, description="The provider batch that answered it (`--batch`).")
    error: SampleError | None = None


class BatchUse(Frozen):
    """How an eval used a provider's batch API (`aegis eval run --batch`)."""

    provider: str
    model: ModelName = Field(description="The model the batches went to: the chain's first.")
    batch_ids: tuple[str, ...] = Field(default=(), description="The provider's ids of the eval's batches.")
    answered: int = Field(default=0, ge=0, description="Results answered by a batch, at the batch price.")
    failed: int = Field(default=0, ge=0, description="Requests that failed inside a batch (answered online).")
    price: Price | None = Field(default=None, description="The batch price charged, USD per million tokens.")


class MetricValue(Frozen):
    name: str = Field(description="e.g. accuracy, pass@5, risk@0.8, cost (USD), latency (s).")
    scorer: str | None = Field(default=None, description="The scorer it summarises; None for cost and latency.")
    value: float | None = Field(description="None when undefined here (see `note`).")
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    interval: str | None = Field(default=None, description="How the 95% interval was computed.")
    n: int = Field(ge=0, description="The units it was computed over (samples, or results for cost/latency).")
    higher_is_better: bool = True
    details: dict[str, float] = Field(default_factory=dict)
    note: str | None = None

    @property
    def key(self) -> str:
        return f"{self.scorer}/{self.name}" if self.scorer else self.name

"""Plans: the model writes a DAG of steps; the executor runs ready steps in parallel with retries,
blocked-dependent propagation, per-step checks and durable resume."""

from aegis_ray.plan.dag import PlanError, validate, waves
from aegis_ray.plan.executor import Orchestration, PlanOutcome, StepOutcome, StepResult, execute_plan
from aegis_ray.plan.planner import make_plan, parse_plan

__all__ = ["Orchestration", "PlanError", "PlanOutcome", "StepOutcome", "StepResult", "execute_plan", "make_plan",
           "parse_plan", "validate", "waves"]

"""The agent loop: a typed state machine plan → act → observe → reflect → verify → stop."""

from aegis_ray.loop.agent import AGENT_SYSTEM_PROMPT, AgentLoop, run_result
from aegis_ray.loop.states import TERMINAL, TRANSITIONS, LoopState

__all__ = ["AGENT_SYSTEM_PROMPT", "TERMINAL", "TRANSITIONS", "AgentLoop", "LoopState", "run_result"]

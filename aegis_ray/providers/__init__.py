"""Provider gateway: routing, fallback, retries, circuit breaker, rate limits, cost, streaming."""

from aegis_ray.model_ref import Capabilities, ModelRef, parse_model_ref
from aegis_ray.providers.admission import EndpointStats
from aegis_ray.providers.endpoint import ModelEndpoint
from aegis_ray.providers.endpoint_config import EndpointConfig, resolve_endpoint
from aegis_ray.providers.function import (
    FunctionInfo,
    FunctionModel,
    FunctionReply,
    ModelFunction,
    function_endpoint,
    function_models,
)
from aegis_ray.providers.gateway import Endpoint, EndpointCache, Gateway

__all__ = [
    "Capabilities", "Endpoint", "EndpointCache", "EndpointConfig", "EndpointStats", "FunctionInfo", "FunctionModel",
    "FunctionReply", "Gateway", "ModelEndpoint", "ModelFunction", "ModelRef", "function_endpoint", "function_models",
    "parse_model_ref", "resolve_endpoint",
]

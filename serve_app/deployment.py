"""The Ray Serve application: the FastAPI ingress as a deployment, and how to start it.

    aegis serve --host 127.0.0.1 --port 8080             # from the CLI
    serve deploy clusters/serve.yaml                      # on a cluster (application builder below)

Access logs are off (they halve throughput); replicas and autoscaling come from settings
(`AEGIS_SERVE__NUM_REPLICAS`, `AEGIS_SERVE__AUTOSCALING`).
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.schema import LoggingConfig

from aegis_ray.config import Settings, load_settings
from serve_app.api import configure, create_app
from serve_app.auth import load_keys
from serve_app.service import AegisService

fastapi_app = create_app()
QUIET = LoggingConfig(enable_access_log=False, log_level="WARNING")


@serve.deployment(name="aegis", logging_config=QUIET)
@serve.ingress(fastapi_app)
class AegisIngress:
    def __init__(self, settings: Settings, sim_url: str | None) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        configure(AegisService(settings, sim_url),
                  load_keys(key, str(settings.api_keys_file) if settings.api_keys_file else None))


def build_application(settings: Settings, sim_url: str | None) -> Any:
    options: dict[str, Any] = {"max_ongoing_requests": settings.serve.max_ongoing_requests}
    if settings.serve.autoscaling:
        options["autoscaling_config"] = settings.serve.autoscaling
    else:
        options["num_replicas"] = settings.serve.num_replicas
    return AegisIngress.options(**options).bind(settings, sim_url)


def app_builder(args: dict[str, str]) -> Any:
    """For `serve deploy`: settings from the environment (and `args`, e.g. {"sim_url": ...})."""
    return build_application(load_settings(), args.get("sim_url"))


def start(settings: Settings, sim_url: str | None, host: str, port: int) -> None:
    """Start Serve on `host:port` (the cluster must be connected) and deploy the app."""
    serve.start(http_options={"host": host, "port": port}, logging_config=QUIET)
    serve.run(build_application(settings, sim_url), name="aegis", route_prefix="/", logging_config=QUIET)

"""`aegis mcp serve`: Aegis's tools (files, sandboxed exec, run, verify) served over the Model
Context Protocol, on stdio or streamable HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from aegis_ray.cli.common import err, reports_errors, simulator
from aegis_ray.config import load_settings
from aegis_ray.errors import BadInputError
from aegis_ray.tools.approval import ApprovalPolicy


@reports_errors
def serve(
    workspace: Annotated[Path, typer.Option(help="Workspace the file and exec tools are confined to.")] = Path("."),
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    approve: Annotated[ApprovalPolicy, typer.Option(help="auto or deny: the MCP host asks its own user.")] = "auto",
) -> None:
    """Serve Aegis's tools (files, sandboxed exec, run, verify) over MCP (stdio by default)."""
    from aegis_ray.control import KillSwitch
    from aegis_ray.mcp_server import build_server, serve_http, serve_stdio, served_toolbox
    from aegis_ray.providers import EndpointCache, Gateway, ModelEndpoint
    from aegis_ray.runner import endpoint_configurer, plan_models
    from aegis_ray.sandbox import make_sandbox
    from aegis_ray.store import open_store
    from aegis_ray.tools import ToolContext, Workspace

    if approve == "ask":
        raise BadInputError("--approve ask needs a person at this end; over MCP the host asks its own user",
                            hint="use --approve auto (the default) or deny")
    settings = load_settings()
    plan = plan_models(settings)
    context = ToolContext(workspace=Workspace(workspace.resolve()), limits=settings.sandbox.limits,
                          sandbox=make_sandbox(settings.sandbox.backend, settings.sandbox.image))
    with simulator(plan.needs_simulator) as sim_url:
        configure = endpoint_configurer(settings, sim_url)
        gateway = Gateway(EndpointCache(lambda m: ModelEndpoint(configure(m))), plan.chain)
        # Its own credentials and the endpoints' keys (set by OPENAI_API_KEY and friends, which
        # `known_secrets` does not see) are masked in whatever a served tool is sent.
        secrets = [*settings.known_secrets(), *(configure(m).api_key.get_secret_value() for m in plan.chain)]
        tools = served_toolbox(gateway, security=settings.security, secrets=secrets, approval=approve)
        switch = KillSwitch(lambda: open_store(settings.database_dsn, settings.home))  # read in the server's loop
        server = build_server(tools, context, switch)
        where = f"http://{host}:{port}/mcp" if http else "stdio"
        err.print(f"[dim]aegis MCP server · workspace {context.workspace.root} · {where}[/]", soft_wrap=True)
        if http:
            serve_http(server, host, port)
        else:
            asyncio.run(serve_stdio(server))

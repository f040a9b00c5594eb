"""`aegis up`, `aegis down`, `aegis status`: the local Ray cluster that stays up between commands.

Without one, every command that needs Ray starts a cluster of its own (about 10 s) and stops it at
exit. `aegis up` starts a detached local head (and the simulated model server it keeps for its
whole life); later commands join it in about a second. `aegis down` stops exactly its processes.
`aegis up --nodes N` starts N nodes on this machine (each its own raylet, object store and CPUs): a
cluster of several nodes to try placement and node failure on. `RAY_ADDRESS` (or
`AEGIS_RAY_ADDRESS`) still wins: commands join that cluster instead. With
`AEGIS_LOCAL_CLUSTER=keep` the first command that needs Ray runs `aegis up` for itself.
"""

from __future__ import annotations

import json
import os
import time
from typing import Annotated, Any

import typer

from aegis_ray.cli.common import err, out, quiet_ray, reports_errors, status
from aegis_ray.config import Settings, load_settings


def _memory_mb(pids: list[int]) -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            total += int(open(f"/proc/{pid}/statm").read().split()[1]) * page  # noqa: SIM115
        except (OSError, ValueError, IndexError):
            continue
    return total / 2**20


def _report(settings: Settings) -> dict[str, Any]:
    from actors.local_cluster import autostart_enabled, running

    head = running(settings.home)
    joins = settings.ray_address or os.environ.get("RAY_ADDRESS") or None
    report: dict[str, Any] = {"up": head is not None, "home": str(settings.home), "commands_join": joins,
                              "autostart": autostart_enabled()}
    if head is not None:
        pids = head.processes()
        report |= {"address": head.address, "nodes": head.nodes, "simulator": head.sim_url, "processes": len(pids),
                   "memory_mb": round(_memory_mb(pids), 1), "temp_dir": head.temp_dir,
                   "up_since": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(head.started_at))}
        report["commands_join"] = joins or head.address
    return report


def _watched(settings: Settings, address: str) -> list[dict[str, Any]]:
    """Each model the cluster's `ProviderActor`s have seen called: SLOs and drift (of calls: verification
    outcomes are known only to the Serve replicas, in `/api/health`)."""
    from actors.cluster import connect
    from actors.registry import provider_windows
    from aegis_ray.control.watch import watch_model

    quiet_ray()
    connect(address)
    return [watch_model(model, window, settings.slo).model_dump(mode="json")
            for model, window in sorted(provider_windows().items())]


def _alive_nodes(address: str) -> list[dict[str, Any]]:
    """Each alive node of the cluster: its id, CPUs and whether it is the head."""
    import ray

    from actors.cluster import connect

    quiet_ray()
    connect(address)
    return [{"node_id": node["NodeID"], "cpus": node["Resources"].get("CPU", 0),
             "head": "node:__internal_head__" in node["Resources"]} for node in ray.nodes() if node["Alive"]]


def _model_line(watched: dict[str, Any]) -> str:
    slo, drift = watched["slo"], watched["drift"]
    firing = [f"{a['window']} {a['indicator']} burn {a['long_burn']:.1f}" for a in slo["alerts"] if a["firing"]]
    p95 = f"{slo['latency_p95_s']:.2f} s" if slo["latency_p95_s"] is not None else "-"
    errors = f"{slo['error_rate']:.1%}" if slo["error_rate"] is not None else "-"
    drifted = [m["name"] for m in drift["metrics"] if m["drifted"]]
    return (f"model {watched['model']}: SLO {slo['status']} ({slo['calls']} calls, p95 {p95}, errors {errors}"
            f"{'; ' + ', '.join(firing) if firing else ''}) · drift {drift['status']}"
            f"{' (' + ', '.join(drifted) + ')' if drifted else ''}")


def _prewarm(settings: Settings, address: str, sim_url: str | None) -> None:
    """Make the default model chain's endpoint actors now, and let the simulated ones answer once:
    the first command after `aegis up` then finds them warm."""
    import asyncio

    from actors.cluster import connect
    from actors.registry import ActorEndpoint
    from aegis_ray.runner import endpoint_configurer, plan_models
    from aegis_ray.types import Message, ModelRequest

    plan = plan_models(settings)
    if plan.needs_simulator and sim_url is None:
        return
    quiet_ray()
    connect(address)
    configure = endpoint_configurer(settings, sim_url)

    async def warm() -> None:
        for model in plan.chain:
            endpoint = ActorEndpoint(configure(model), relay=True)
            if model.simulated:
                await endpoint.complete(ModelRequest(messages=[Message.user("ping")], max_tokens=8))
            else:  # a real provider: its actor, but no paid call
                await endpoint.handle.node.remote()
            await endpoint.aclose()

    asyncio.run(warm())


@reports_errors
def up(
    num_cpus: Annotated[int | None, typer.Option(
        min=1, help="CPUs the cluster offers (default: all); with --nodes, CPUs per node (default: all, shared out).")
    ] = None,
    nodes: Annotated[int, typer.Option(
        min=1, max=8, help="Ray nodes to start on this machine, each with its own raylet and object store.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cluster's status as JSON.")] = False,
) -> None:
    """Start a local Ray cluster that stays up: later commands join it in about a second."""
    from actors.local_cluster import running, start

    settings = load_settings()
    head = running(settings.home)
    if head is not None:
        err.print(f"the local cluster is already up at {head.address} with {head.nodes} node(s) "
                  "(`aegis down` stops it)", soft_wrap=True)
        if nodes != head.nodes:
            err.print(f"[yellow]note:[/] it has {head.nodes} node(s), not {nodes}: `aegis down`, then "
                      f"`aegis up --nodes {nodes}`", soft_wrap=True)
    else:
        status(f"starting a local Ray cluster{f' of {nodes} nodes' if nodes > 1 else ''} (~{10 * nodes} s)...")
        head, _ = start(settings.home, num_cpus=num_cpus, object_store_bytes=settings.ray_object_store_mb * 2**20,
                        nodes=nodes)
        _prewarm(settings, head.address, head.sim_url)
        shape = f" · {head.nodes} nodes" if head.nodes > 1 else ""
        err.print(f"local cluster up at {head.address}{shape} · simulated models at {head.sim_url}\n"
                  "[dim]commands that need Ray now join it; `aegis down` stops it[/]", soft_wrap=True)
    joins = settings.ray_address or os.environ.get("RAY_ADDRESS")
    if joins:
        err.print(f"[yellow]note:[/] RAY_ADDRESS is set: commands join {joins}, not this cluster", soft_wrap=True)
    if as_json:
        out.print_json(json.dumps(_report(settings)))


@reports_errors
def down(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stop the local cluster `aegis up` started: exactly its processes, and its files."""
    from actors.local_cluster import recorded, stop

    settings = load_settings()
    found = recorded(settings.home)
    count = len(found.processes()) if found else 0
    head = stop(settings.home)
    if head is None:
        err.print("no local cluster is running (nothing to stop)")
    else:
        err.print(f"stopped the local cluster at {head.address} ({count} processes)")
    if as_json:
        out.print_json(json.dumps({"stopped": head is not None, "address": head.address if head else None,
                                   "processes": count}))


@reports_errors
def status_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the local cluster: up or not, its address, processes and memory, where commands join, the
    kill switch, and each model's SLOs and drift."""
    from aegis_ray.cli.control import switch_state

    settings = load_settings()
    report = _report(settings) | {"kill_switch": switch_state()}
    if report["up"]:
        try:
            report["alive_nodes"] = _alive_nodes(report["address"])
            report["models"] = _watched(settings, report["address"])
        except Exception as exc:  # status reports, it does not fail
            report["models_error"] = f"{type(exc).__name__}: {exc}"
    if as_json:
        out.print_json(json.dumps(report))
        return
    if report["up"]:
        out.print(f"local cluster up at {report['address']} since {report['up_since']} · {report['nodes']} node(s) · "
                  f"{report['processes']} "
                  f"processes · {report['memory_mb']:.0f} MB · simulated models at {report['simulator']}",
                  markup=False, soft_wrap=True)
    else:
        how = ("the first command that needs Ray starts one (AEGIS_LOCAL_CLUSTER=keep)" if report["autostart"]
               else "each command that needs Ray starts one for itself; `aegis up` keeps one up")
        out.print(f"no local cluster: {how}", markup=False, soft_wrap=True)
    if len(report.get("alive_nodes", [])) > 1 or report.get("nodes", 1) > 1:
        alive = report.get("alive_nodes", [])
        cpus = ", ".join(f"{n['node_id'][:8]}{' (head)' if n['head'] else ''} {n['cpus']:g} CPU" for n in alive)
        out.print(f"nodes alive: {len(alive)} of {report['nodes']}: {cpus}", markup=False, soft_wrap=True)
    if report["commands_join"]:
        out.print(f"commands join {report['commands_join']}", markup=False, soft_wrap=True)
    out.print(f"kill switch {report['kill_switch']}", markup=False, soft_wrap=True)
    for watched in report.get("models", []):
        out.print(_model_line(watched), markup=False, soft_wrap=True)
    if "models_error" in report:
        out.print(f"models: cannot be read ({report['models_error']})", markup=False, soft_wrap=True)

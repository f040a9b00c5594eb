"""`aegis chat`: an interactive conversation with an agent session on a `SessionActor` (the REPL is
`cli/chat_repl.py`). It takes the same session as `aegis run --code` (workspace, sandbox, security
layer, approvals, MCP servers, compaction); the conversation is durable in the store, so
`--resume NAME_OR_ID` goes on with it after an exit, a crash, or from another machine of the
cluster. It needs a terminal: without one it says so and exits 2."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aegis_ray.cli.common import (
    check_simulated_models,
    err,
    join_cluster,
    reports_errors,
    simulated_notice,
    simulator,
    status,
    store_call,
)
from aegis_ray.cli.interrupt import interruptible
from aegis_ray.cli.session_run import agent_profile, session_spec
from aegis_ray.config import Settings, load_settings
from aegis_ray.errors import BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.tools.approval import ApprovalPolicy
from aegis_ray.types import Budget, new_id

if TYPE_CHECKING:
    from aegis_ray.cli.chat_repl import Conversation

EXIT_ON_SIGTERM = 143


@reports_errors
def chat(
    workspace: Annotated[Path | None, typer.Option(help="The session's workspace (default: a new one under "
                                                        "~/.aegis/workspaces; a resumed chat keeps its own).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini")] = None,
    resume: Annotated[str | None, typer.Option(help="Go on with a conversation: a name saved with /save, "
                                                    "or a run id.")] = None,
    mcp: Annotated[list[str] | None, typer.Option("--mcp", help='An MCP server to mount: "CMD ARGS" (stdio) or '
                                                               "http://HOST:PORT/mcp (repeatable).")] = None,
    approve: Annotated[ApprovalPolicy | None, typer.Option(help="Writing and executing tools: ask, auto or deny "
                                                               "(default AEGIS_APPROVAL, else ask).")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Model turns at most per message (default: the "
                                                               "profile's, else 20).")] = None,
    profile: Annotated[str | None, typer.Option(help="An agent profile for a new chat (coding, research, sre, or "
                                                    "your own in ~/.aegis/profiles): tools, prompt, budgets.")] = None,
) -> None:
    """Chat with an agent in a sandboxed workspace: answers streamed, tool calls shown, approvals
    asked inline; /help lists the commands. Ctrl-C cancels a turn, Ctrl-D exits."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInputError("aegis chat needs a terminal, and this input or output is not one",
                            hint='run it in a terminal; from a script, use `aegis run --code "TASK"`')
    from aegis_ray.cli.chat_repl import Conversation, find_conversation
    from aegis_ray.runner import SIMULATED_CODER_MODEL, endpoint_configurer, plan_models
    from aegis_ray.sandbox import make_sandbox
    from aegis_ray.tools.mcp_client import server_from_flag

    settings = load_settings()
    agent = agent_profile(settings, profile)
    with interruptible() as interrupt:
        found = store_call(settings, lambda store: find_conversation(store, resume)) if resume else None
        if found is not None:
            chain = plan_models(settings, model).chain if model else found.session.chain
            conversation = Conversation(run_id=found.run_id, spec=found.spec, session=found.session.model_copy(
                update={"chain": chain, "approval": approve or found.session.approval, "approvals": "live",
                        "mcp_servers": (*found.session.mcp_servers, *map(server_from_flag, mcp or ()))}))
            if workspace is not None and workspace.resolve() != Path(found.session.workspace):
                err.print(f"[yellow]note:[/] a resumed chat keeps its workspace, {found.session.workspace}")
        else:
            chain = plan_models(settings, model, (), SIMULATED_CODER_MODEL).chain
            conversation = Conversation(run_id=new_id("run"), spec=None, session=session_spec(
                settings, chain, workspace, approve or (agent and agent.approval) or settings.approval, mcp=mcp or (),
                live=True, tools=agent.tools if agent else None))
        make_sandbox(conversation.session.sandbox_backend, conversation.session.sandbox_image)  # fails now (exit 2)
        check_simulated_models(settings, conversation.session.models)
        simulated = any(m.simulated for m in conversation.session.models)
        join_cluster(settings, preload=("aegis_ray.sim.server",) if simulated else ())
        interrupt.check()
        with simulator(simulated and not settings.sim_url) as sim_url:
            interrupt.check()
            sim_url = sim_url or settings.sim_url
            budget = agent.budget_with(max_steps) if agent else Budget(max_steps=max_steps or 20)
            code = asyncio.run(_chat(settings, conversation, endpoint_configurer(settings, sim_url), budget, sim_url,
                                     resumed=found is not None, system_prompt=agent.system_prompt if agent else None))
    raise typer.Exit(code)


async def _chat(settings: Settings, conversation: Conversation, configure: Callable[[ModelRef], Any],
                budget: Budget, sim_url: str | None, *, resumed: bool, system_prompt: str | None = None) -> int:
    from aegis_ray.cli.chat_repl import ChatRepl
    from aegis_ray.store import open_store

    store = await open_store(settings.database_dsn, settings.home)
    session = conversation.session
    status(f"aegis chat · conversation {conversation.run_id} · workspace {session.workspace} · model "
           f"{', '.join(m.name for m in session.chain)} · approvals {session.approval} · /help for commands, "
           "Ctrl-D to exit")
    if any(m.simulated for m in session.chain):
        simulated_notice(session.chain[0].name)
    repl = ChatRepl(settings, store, conversation, configure, budget, sim_url=sim_url, system_prompt=system_prompt)
    try:
        if resumed:
            await repl.recap()
        return await repl.main()
    except asyncio.CancelledError:
        return EXIT_ON_SIGTERM
    finally:
        await store.close()

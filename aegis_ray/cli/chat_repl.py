"""The `aegis chat` REPL: one conversation on a `SessionActor`, read with `prompt_toolkit` (line
editing, history in the Aegis home), the answer streamed as the model writes, tool calls and their
results shown as they happen, approvals asked inline (`[y/N/a]`: `a` approves every later call of
the conversation), and slash commands (`COMMANDS`).

Ctrl-C during a turn cancels the turn: the session stops it at a safe point and records it
cancelled (its actor, and any sandbox, is ended and a new one takes the next message), and the
conversation goes on. Ctrl-C at the prompt clears the line; Ctrl-D (or `/exit`) ends the chat.
SIGTERM ends it too, the turn in flight cancelled the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from aegis_ray.cli.common import one_line, out
from aegis_ray.cli.session_run import session_config, step_lines
from aegis_ray.config import Settings
from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.tools.approval import ApprovalPolicy, ApprovalRequest
from aegis_ray.types import Budget, RunResult, RunSpec, RunStatus, new_id

if TYPE_CHECKING:
    from aegis_ray.loop.events import SessionEvent
    from aegis_ray.session import SessionSpec
    from aegis_ray.store import Store

SAVED = "chat:"  # the store flag that names a saved conversation: chat:NAME = its run id
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
POLICIES: tuple[ApprovalPolicy, ...] = ("ask", "auto", "deny")


@dataclass
class Conversation:
    """Which conversation the REPL drives: its run, the spec its first message started it with
    (None until then), and the session it runs in."""

    run_id: str
    spec: RunSpec | None
    session: SessionSpec


async def find_conversation(store: Store, ref: str) -> Conversation:
    """A saved name (`/save NAME`) or a run id, as a `Conversation` to go on with."""
    from aegis_ray.session import SessionSpec

    run_id = await store.flag(SAVED + ref) or ref
    record = await store.load_run(run_id)
    if record is None or record.session is None:
        raise BadInputError(f"no conversation {ref!r} to resume",
                            hint="give a name you saved with /save, or a run id from `aegis runs`")
    return Conversation(run_id=run_id, spec=record.spec, session=SessionSpec.model_validate(record.session))


class ChatRepl:
    def __init__(self, settings: Settings, store: Store, conversation: Conversation,
                 configure: Callable[[ModelRef], Any], budget: Budget, *, sim_url: str | None,
                 system_prompt: str | None = None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        self.settings = settings
        self.store = store
        self.conversation = conversation
        self.configure = configure
        self.budget = budget
        self.system_prompt = system_prompt  # an agent profile's (`--profile`); None: the loop's own
        self.sim_url = sim_url
        settings.home.mkdir(parents=True, exist_ok=True)
        self.prompt: PromptSession[str] = PromptSession(history=FileHistory(str(settings.home / "chat_history")))
        self.asker: PromptSession[str] = PromptSession()  # approvals: kept out of the history
        self.actor: Any = None
        self.turn: asyncio.Task[RunResult] | None = None
        self.always = False  # `a` at an approval: approve the rest of the conversation's calls
        self.result: RunResult | None = None
        self.mid_line = False  # streamed text without its newline yet

    # --- the loop ------------------------------------------------------------------------------

    async def main(self) -> int:
        main = asyncio.current_task()
        assert main is not None
        before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGINT, lambda *_: self._cancel_turn())
        signal.signal(signal.SIGTERM, lambda *_: _cancel_soon(main))
        try:
            await self._start_actor()
            while True:
                try:
                    line = (await self.prompt.prompt_async("you› ")).strip()
                except KeyboardInterrupt:
                    continue  # Ctrl-C at the prompt: the line is cleared
                except EOFError:
                    return 0
                if line.startswith("/"):
                    if not await self._command(line):
                        return 0
                elif line:
                    await self._turn(line)
                    if _cancelling():
                        raise asyncio.CancelledError  # SIGTERM during the turn: the chat ends too
        finally:
            await self._stop_actor()
            for signum, handler in before.items():  # the loop these handlers cancel tasks of is ending
                if handler is not None:
                    signal.signal(signum, handler)

    def _cancel_turn(self) -> None:
        turn = self.turn
        if turn is None or turn.done():
            return
        self._newline()
        if turn.cancelling():
            out.print("[yellow]still cancelling: the session is stopping the turn at a safe point...[/]")
            return
        out.print("[yellow]cancelling the turn...[/]")
        _cancel_soon(turn)

    async def _start_actor(self) -> None:
        if self.actor is not None:
            return
        from actors.session_actor import start_session

        self.actor = start_session(session_config(self.settings, self.conversation.session, self.configure))
        for notice in await self.actor.open.remote():
            out.print(f"[dim]{escape(notice)}[/]", soft_wrap=True)

    async def _stop_actor(self) -> None:
        import ray

        actor, self.actor = self.actor, None
        if actor is not None:
            with contextlib.suppress(Exception):
                await actor.close.remote()
            ray.kill(actor, no_restart=True)

    async def _turn(self, text: str) -> None:
        from actors.session_actor import drive_session
        from aegis_ray.loop.conversation import FollowUp

        conversation = self.conversation
        first = conversation.spec is None
        spec = RunSpec(task=text, budget=self.budget, system_prompt=self.system_prompt) if first else conversation.spec
        assert spec is not None
        await self._start_actor()
        self.turn = asyncio.create_task(drive_session(
            self.actor, spec, conversation.run_id, self._show, self._approve,
            message=None if first else FollowUp(text=text), stream=True))
        try:
            result = await self.turn
        except asyncio.CancelledError:
            if _cancelling():
                raise  # SIGTERM: the chat ends
            self.actor = None  # killed with the run it could not account for
            self._newline()
            out.print("[yellow]turn cancelled; the session could not say at which step.[/] The conversation "
                      "goes on.")
            return
        except AegisError as error:
            self._newline()
            out.print(f"[bold red]error:[/] {escape(one_line(error.message))}", soft_wrap=True)
            if first:
                conversation.run_id = new_id("run")  # the next message starts the conversation afresh
            return
        finally:
            self.turn = None
        conversation.spec = spec
        self.result = result
        self._report(result, first)

    def _report(self, result: RunResult, first: bool) -> None:
        streamed, self.mid_line = self.mid_line, False
        if result.status is RunStatus.CANCELLED:
            self.actor = None  # `drive_session` ended it, sandboxes and all
            if streamed:
                out.print()
            goes_on = "" if _cancelling() else "; the conversation goes on"
            out.print(f"[yellow]turn cancelled:[/] stopped at a safe point{goes_on}.")
            if first and result.usage.total_tokens == 0:
                self.conversation.spec = None  # nothing was said yet: the next message starts it afresh
                self.conversation.run_id = new_id("run")
            return
        if result.status is RunStatus.SUCCEEDED:
            if streamed:
                out.print()
            else:
                out.print(result.answer.text, markup=False, soft_wrap=True)
        else:
            if streamed:
                out.print()
            out.print(f"[bold]{result.status.value}:[/] {escape(result.answer.reason or '')}", soft_wrap=True)
        simulated = " (simulated)" if result.simulated else ""
        out.print(f"[dim]{result.model}{simulated} · {result.latency_s:.1f} s · conversation so far: "
                  f"{result.usage.total_tokens} tokens, ${result.cost_usd or 0:.6f}[/]")

    async def _show(self, event: SessionEvent) -> None:
        from aegis_ray.loop.events import NoticeEvent, StepEvent, TextEvent

        if isinstance(event, TextEvent):
            out.file.write(event.text)
            out.file.flush()
            self.mid_line = True
        elif isinstance(event, NoticeEvent):
            self._newline()
            out.print(f"[dim]{escape(event.text)}[/]", soft_wrap=True)
        elif isinstance(event, StepEvent):
            step = event.step
            calls = step.completion.tool_calls if step.state == "act" and step.completion else ()
            for call in calls:
                self._newline()
                out.print(f"[cyan]  → {escape(call.name)}[/]({escape(_arguments(call.arguments))})", soft_wrap=True)
            if step.state == "observe":
                for line in step_lines(step)[1:]:
                    out.print(line, soft_wrap=True, highlight=False)
            elif step.state == "compact":
                self._newline()
                out.print(f"[dim]{escape(step.detail)}[/]", soft_wrap=True)

    async def _approve(self, request: ApprovalRequest) -> bool:
        if self.always:
            return True
        self._newline()
        question = f"Allow {request.effect} tool {request.tool}({_arguments(request.arguments)})? [y/N/a] "
        try:
            answer = (await self.asker.prompt_async(question)).strip().lower()
        except KeyboardInterrupt:
            raise asyncio.CancelledError from None  # Ctrl-C at the question: the turn is cancelled
        except EOFError:
            return False
        if answer in ("a", "always"):
            self.always = True
            out.print("[dim]approving every later call of this conversation (/approve ask to be asked again)[/]")
        return answer in ("y", "yes", "a", "always")

    def _newline(self) -> None:
        if self.mid_line:
            out.file.write("\n")
            out.file.flush()
            self.mid_line = False

    # --- slash commands ------------------------------------------------------------------------

    async def _command(self, line: str) -> bool:
        """Run a slash command; False when it ends the chat."""
        name, _, argument = line[1:].partition(" ")
        handler = COMMANDS.get(name.lower())
        if handler is None:
            out.print(f"[red]unknown command /{escape(name)}[/]: /help lists them")
            return True
        try:
            return await handler[0](self, argument.strip()) is not False
        except AegisError as error:
            out.print(f"[bold red]error:[/] {escape(one_line(error.message))}", soft_wrap=True)
            if error.hint:
                out.print(f"[dim]hint: {escape(one_line(error.hint))}[/]", soft_wrap=True)
            return True

    async def _help(self, _: str) -> None:
        for name, (_handler, usage) in COMMANDS.items():
            out.print(f"  [cyan]/{name}[/] {escape(usage)}", soft_wrap=True)
        out.print("  Ctrl-C cancels the turn in progress (the conversation goes on); Ctrl-D exits.")

    async def _exit(self, _: str) -> bool:
        return False

    async def _model(self, argument: str) -> None:
        if not argument:
            out.print(", ".join(m.name for m in self.conversation.session.chain))
            return
        from aegis_ray.cli.common import check_simulated_models
        from aegis_ray.runner import plan_models

        plan = plan_models(self.settings, argument)
        if plan.needs_simulator and self.sim_url is None:
            raise BadInputError(f"{argument} is simulated, and this chat started without the simulator",
                                hint="start the chat with a simulated model (or set AEGIS_SIM_URL)")
        check_simulated_models(self.settings, plan.chain)
        await self._respawn(chain=plan.chain)
        out.print(f"model: {', '.join(m.name for m in plan.chain)}")

    async def _tools(self, _: str) -> None:
        await self._start_actor()
        for name, description in await self.actor.tools.remote():
            out.print(f"  [cyan]{escape(name)}[/] {escape(one_line(description)[:100])}", soft_wrap=True)

    async def _approve_policy(self, argument: str) -> None:
        if argument:
            if argument not in POLICIES:
                raise BadInputError(f"no approval policy {argument!r}", hint="use /approve ask, auto or deny")
            self.always = False
            await self._respawn(approval=argument, approvals="live")
        out.print(f"approvals: {self.conversation.session.approval}"
                  f"{' (every call approved with a)' if self.always else ''}")

    async def _cwd(self, _: str) -> None:
        out.print(self.conversation.session.workspace, markup=False)

    async def _clear(self, _: str) -> None:
        self.conversation = Conversation(run_id=new_id("run"), spec=None, session=self.conversation.session)
        self.result, self.always = None, False
        out.clear()
        out.print(f"[dim]a new conversation ({self.conversation.run_id}) in {self.conversation.session.workspace}[/]")

    async def _save(self, argument: str) -> None:
        run_id = self.conversation.run_id
        if self.conversation.spec is None:
            raise BadInputError("nothing to save yet", hint="say something first")
        if argument:
            if not NAME.match(argument):
                raise BadInputError(f"cannot save as {argument!r}",
                                    hint="a name of letters, digits, _ . - (64 at most)")
            await self.store.set_flag(SAVED + argument, run_id)
        out.print(f"saved: resume it with `aegis chat --resume {argument or run_id}`", markup=False)

    async def _resume(self, argument: str) -> None:
        if not argument:
            out.print("resume which? /resume NAME (saved with /save) or /resume RUN_ID (`aegis runs` lists them)")
            return
        found = await find_conversation(self.store, argument)
        await self._stop_actor()
        self.conversation, self.result, self.always = found, None, False
        await self._start_actor()
        out.print(f"[dim]resumed {found.run_id} in {found.session.workspace}[/]")
        await self.recap()

    async def _usage(self, _: str) -> None:
        state = await self._state()
        if state is None:
            out.print("nothing yet: say something first")
            return
        from aegis_ray.memory.compaction import context_view

        compaction = self.conversation.session.compaction
        view = context_view(state.messages, (), compaction)
        calls = sum(s.completion is not None for s in state.steps)
        out.print(f"tokens {state.usage.input_tokens} in / {state.usage.output_tokens} out · {calls} model calls · "
                  f"{sum(m.role == 'user' for m in state.messages)} messages from you · context about "
                  f"{view.tokens} of {compaction.budget_tokens} tokens · compacted "
                  f"{sum(s.state == 'compact' for s in state.steps)} times", markup=False, soft_wrap=True)

    async def _cost(self, _: str) -> None:
        state = await self._state()
        if state is None:
            out.print("$0 so far")
            return
        simulated = " (simulated model)" if state.simulated else ""
        out.print(f"${state.cost_usd:.6f} so far{simulated}, last answered by {state.model or '(none)'}",
                  markup=False)

    async def _compact(self, _: str) -> None:
        if self.conversation.spec is None:
            out.print("nothing to compact yet")
            return
        await self._start_actor()
        out.print(await self.actor.compact.remote(self.conversation.run_id), markup=False, soft_wrap=True)

    # --- helpers -------------------------------------------------------------------------------

    async def _state(self) -> Any:
        record = await self.store.load_run(self.conversation.run_id)
        return record.state if record is not None else None

    async def _respawn(self, **changes: Any) -> None:
        """The session with `changes` (a model, an approval policy), on a new actor."""
        session = self.conversation.session.model_copy(update=changes)
        await self._stop_actor()
        self.conversation.session = session
        await self._start_actor()

    async def recap(self) -> None:
        """The conversation's last exchange, when it goes on from the store."""
        state = await self._state()
        if state is None:
            return
        said = [m for m in state.messages if m.role == "user"]
        answered = [m for m in state.messages if m.role == "assistant" and m.content and not m.tool_calls]
        out.print(f"[dim]{len(said)} messages from you so far; the last:[/]")
        if said:
            out.print(f"[dim]you› {escape(one_line(said[-1].content)[:200])}[/]", soft_wrap=True)
        if answered:
            out.print(f"[dim]{escape(one_line(answered[-1].content)[:200])}[/]", soft_wrap=True)


Handler = Callable[[ChatRepl, str], Awaitable[Any]]
COMMANDS: dict[str, tuple[Handler, str]] = {
    "help": (ChatRepl._help, "this list"),
    "model": (ChatRepl._model, "[M]  the model chain, or switch to M (provider:model)"),
    "tools": (ChatRepl._tools, "the tools the model is offered"),
    "approve": (ChatRepl._approve_policy, "[ask|auto|deny]  the approval policy, or set it"),
    "cwd": (ChatRepl._cwd, "the workspace"),
    "clear": (ChatRepl._clear, "start a new conversation in the same workspace"),
    "save": (ChatRepl._save, "[NAME]  save the conversation (under NAME) to resume it later"),
    "resume": (ChatRepl._resume, "[NAME]  go on with a saved conversation (or a run id)"),
    "usage": (ChatRepl._usage, "tokens, model calls and context size so far"),
    "cost": (ChatRepl._cost, "what the conversation has cost"),
    "compact": (ChatRepl._compact, "summarise the older turns now"),
    "exit": (ChatRepl._exit, "end the chat (Ctrl-D does too)"),
}


def _arguments(arguments: dict[str, Any]) -> str:
    """A tool call's arguments in one short line (long values by their length)."""
    parts = []
    for key, value in arguments.items():
        text = value if isinstance(value, str) else json.dumps(value)
        parts.append(f"{key}={text!r}" if len(text) <= 60 and "\n" not in text else f"{key}=<{len(text)} chars>")
    return ", ".join(parts)


def _cancel_soon(task: asyncio.Task[Any]) -> None:
    """Cancel `task` from a signal handler, and wake its loop."""
    task.cancel()
    task.get_loop().call_soon_threadsafe(lambda: None)


def _cancelling() -> bool:
    """Whether the running task is being cancelled itself (not just a task it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

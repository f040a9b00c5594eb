"""One agent session as a batch job: a factory job (an eval's `session` solver) run to its end in
the worker's own process, in a throwaway workspace (`agent_jobs` dispatches it).

The job carries its `SessionSpec` without a workspace (`SessionJob`); the worker makes a fresh
temporary workspace, writes the sample's files into it, runs the agent loop there with the
session's tools under the security layer and in the sandbox (exactly as `run --code` does), and
returns the run's result; the workspace is deleted afterwards. Nothing asks a person: the job's
approval policy is `auto` or `deny` (an eval has no one at the terminal), and its security layer
still blocks what the policy forbids.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aegis_ray.errors import BadInputError
from aegis_ray.loop.agent import run_result
from aegis_ray.providers import Gateway
from aegis_ray.sandbox import make_sandbox
from aegis_ray.session import Session, SessionSpec
from aegis_ray.tools import ToolContext, Workspace
from aegis_ray.types import RunResult, RunSpec


class SessionJob(BaseModel):
    """What a session job carries besides its `RunSpec`: the session (its workspace is made per job)
    and the files to put in the workspace first."""

    model_config = ConfigDict(frozen=True)

    session: SessionSpec
    files: dict[str, str] = Field(default_factory=dict, description="Relative path -> text, written first.")

    @field_validator("files")
    @classmethod
    def _relative(cls, files: dict[str, str]) -> dict[str, str]:
        for name in files:
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or not path.parts:
                raise BadInputError(f"a session job's file {name!r} must be a relative path inside the workspace")
        return files


async def run_session_job(spec: RunSpec, job: SessionJob, gateway: Gateway) -> RunResult:
    """Run `spec` as an agent session to its end in a fresh workspace holding `job.files`."""
    with tempfile.TemporaryDirectory(prefix="aegis-job-") as directory:
        root = Path(directory)
        for name, text in job.files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        session_spec = job.session.model_copy(update={"workspace": str(root)})
        session = Session(session_spec, gateway)
        await session.open()
        try:
            context = ToolContext(workspace=Workspace(root), limits=session_spec.limits,
                                  sandbox=make_sandbox(session_spec.sandbox_backend, session_spec.sandbox_image))
            state = await session.loop(context, approver=None).run(spec)
        finally:
            await session.aclose()
    return run_result(state)

"""Tools: a typed registry, workspace-confined file tools, sandboxed exec tools, approvals, MCP."""

from aegis_ray.tools.approval import ApprovalPolicy, ApprovalRequest, Approver, terminal_approver
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool
from aegis_ray.tools.exec import EXEC_TOOLS
from aegis_ray.tools.files import FILE_TOOLS
from aegis_ray.tools.registry import ToolRegistry
from aegis_ray.tools.workspace import Workspace

BUILTIN_TOOLS = (*FILE_TOOLS, *EXEC_TOOLS)

__all__ = [
    "BUILTIN_TOOLS", "ApprovalPolicy", "ApprovalRequest", "Approver", "Effect", "Tool", "ToolArgs", "ToolContext",
    "ToolRegistry", "Workspace", "terminal_approver", "tool",
]

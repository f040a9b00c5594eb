"""Deterministic verification of arithmetic: any `expression = value` a claim states is
re-computed (an AST walk over numbers and operators, never `eval`).

Like the checks a task declares on its final answer (`aegis_ray.checks`), it is the cheapest and
most trustworthy layer, so it runs first wherever it applies.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from aegis_ray.checks import CheckOutcome

_ARITHMETIC = re.compile(r"(?P<expr>[-+*/()%.\d\s×÷^]*\d[-+*/()%.\d\s×÷^]*?)\s*=\s*(?P<value>-?\d+(?:\.\d+)?)")
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def _evaluate(node: ast.AST) -> float:
    """Numbers and + - * / // % ** only; exponents are capped so a claim cannot make us compute 9**9**9."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError(f"not arithmetic: {ast.dump(node)[:60]}")


def recompute_arithmetic(claim: str) -> CheckOutcome | None:
    """Re-computes every `expression = value` in a claim; None when the claim states no arithmetic."""
    found = False
    for match in _ARITHMETIC.finditer(claim):
        expression = match.group("expr").strip().replace("×", "*").replace("÷", "/").replace("^", "**")
        if not re.search(r"\d\s*[-+*/%]", expression):
            continue  # a bare number ("x = 4") states no computation
        try:
            value = _evaluate(ast.parse(expression, mode="eval").body)
        except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
            continue
        found = True
        stated = float(match.group("value"))
        if not math.isclose(value, stated, rel_tol=1e-9, abs_tol=1e-9):
            return CheckOutcome(check="arithmetic", passed=False, reason=f"{expression} = {value:g}, not {stated:g}")
    if not found:
        return None
    return CheckOutcome(check="arithmetic", passed=True, reason="every computation in the claim re-computes")

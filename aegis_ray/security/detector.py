"""Prompt-injection detection in linear time: RE2 patterns plus heuristics, over every readable view.

Patterns run in RE2 (no backtracking, so 1 MB of hostile text costs milliseconds, never a ReDoS),
on the text and on what it says once smuggling is undone (zero-width characters, Unicode tag
characters, base64 blobs, homoglyphs folded by NFKC and a confusables map). The detector only
flags; the policy decides (neutralise by quarantine, or fail closed). It never rewrites content:
rewriting corrupts data the user needs and is defeated by the next paraphrase.
"""

from __future__ import annotations

import unicodedata

import re2

from aegis_ray.security.smuggling import ZERO_WIDTH, fold_homoglyphs, readable_views
from aegis_ray.types import Frozen

PATTERNS: dict[str, str] = {
    "override": r"(?i)\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:previous|prior|above|earlier|all|your)\b"
                r".{0,40}\b(?:instructions?|rules?|prompts?|directions?|guidelines?)\b",
    "new_instructions": r"(?i)\b(?:new|updated|real|actual|important)\s+(?:instructions?|task|orders?)\s*:",
    "role_play": r"(?i)\b(?:you\s+are\s+now|act\s+as|pretend\s+(?:to\s+be|you\s+are)|from\s+now\s+on\s+you)\b",
    "tool_command": r"(?i)\b(?:call|invoke|use|run|execute)\s+(?:the\s+)?(?:tool|function)?\s*[`'\"]?"
                    r"[A-Za-z_][\w\-]*[`'\"]?\s*(?:with\s*(?:arguments|args|parameters)?\s*:?\s*)?[\{(]",
    "exfiltration": r"(?i)\b(?:send|forward|email|post|upload|leak|exfiltrate)\b.{0,60}\b(?:to|at)\b.{0,60}"
                    r"(?:https?://|[\w.+-]+@[\w-]+\.[\w.]+)",
    "markdown_image": r"!\[[^\]]{0,200}\]\(\s*https?://[^)\s]+\)",
    "delimiter_spoof": r"(?i)(?:<{2,}|\[{2,}|-{3,}|={3,})\s*(?:end|begin|start)[\s_-]*(?:of[\s_-]*)?"
                       r"(?:untrusted|data|document|content|input|system)",
    "system_tag": r"(?i)</?\s*(?:system|assistant|instructions?|im_start|im_end)\s*>",
    "say_command": r"(?i)\b(?:say|respond\s+with|reply\s+with|answer\s+with|output)\s*:?\s*[\"“']",
    "secret_request": r"(?i)\b(?:reveal|print|show|tell\s+me|give\s+me|what\s+is)\b.{0,40}\b(?:api[\s_-]?key|password|"
                      r"secret|token|credentials?|system\s+prompt)\b",
}
_COMPILED = {name: re2.compile(pattern) for name, pattern in PATTERNS.items()}


class Finding(Frozen):
    rule: str
    view: str
    excerpt: str


class Detection(Frozen):
    findings: tuple[Finding, ...]
    smuggled: bool

    @property
    def flagged(self) -> bool:
        return bool(self.findings) or self.smuggled


def detect(text: str) -> Detection:
    """Every rule that matches any readable view of `text`; `smuggled` when invisible characters or
    homoglyphs were present at all (a legitimate document rarely needs tag characters)."""
    views = {"plain": text, **{f"decoded{i}": v for i, v in enumerate(list(readable_views(text))[1:])}}
    folded = fold_homoglyphs(text)
    findings = []
    for view, content in views.items():
        for rule, pattern in _COMPILED.items():
            match = pattern.search(content)
            if match is not None:
                findings.append(Finding(rule=rule, view=view, excerpt=match.group(0)[:120]))
    smuggled = any(0xE0000 <= ord(c) <= 0xE007F or c in ZERO_WIDTH for c in text) or (
        folded != unicodedata.normalize("NFKC", text))
    return Detection(findings=tuple(findings), smuggled=smuggled)

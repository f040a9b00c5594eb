"""Judges: the protocol (`protocol.Judge`), a model as judge (`llm.LLMJudge`), and the offline
evidence judge (`evidence.EvidenceJudge`, its weights fitted by `fit`). See docs/VERIFICATION.md."""

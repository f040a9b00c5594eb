"""The simulator's batch APIs: OpenAI's Batch API (over its Files API), Anthropic's Message Batches
and Gemini's batch mode (inlined requests), each as the official SDK expects it on the wire.

`book.py` keeps every batch whatever its protocol (its requests answered by the same world as online
calls, a completion delay, failures inside a batch); `openai.py`, `anthropic.py` and `gemini.py` are
each protocol's routes, gathered by `routes.batch_routes` for the server.
"""

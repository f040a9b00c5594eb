"""The official SDKs, used directly, complete text, tool-call and streamed turns on the simulator.

This pins the simulator to the real wire protocols: if it drifted, the SDKs' own parsers would fail.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from aegis_ray.sim import SimServer

pytestmark = pytest.mark.unit

QUESTION = "What is the capital of Australia?"
WEATHER_TOOL = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _openai(sim: SimServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="k", base_url=f"{sim.base_url}/v1", max_retries=0)


async def test_openai_chat_text_tool_and_stream(sim: SimServer) -> None:
    client = _openai(sim)
    text = await client.chat.completions.create(model="sim-honest",
                                                messages=[{"role": "user", "content": QUESTION}])
    assert text.choices[0].message.content == "Canberra."
    assert text.usage.prompt_tokens > 0 and text.usage.completion_tokens > 0

    tool = await client.chat.completions.create(
        model="sim-honest", messages=[{"role": "user", "content": "weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL}}],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = tool.choices[0].message.tool_calls[0]
    assert tool.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {}

    stream = await client.chat.completions.create(
        model="sim-honest", messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Canberra."
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    await client.close()


async def test_openai_responses_text_tool_and_stream(sim: SimServer) -> None:
    client = _openai(sim)
    text = await client.responses.create(model="sim-honest", input=QUESTION)
    assert text.output_text == "Canberra."

    tool = await client.responses.create(
        model="sim-honest", input="weather?", tool_choice="required",
        tools=[{"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL, "strict": False}])
    assert [item.name for item in tool.output if item.type == "function_call"] == ["get_weather"]

    stream = await client.responses.create(model="sim-honest", input=QUESTION, stream=True)
    events = [e async for e in stream]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Canberra."
    assert events[-1].type == "response.completed"
    await client.close()


async def test_anthropic_text_tool_and_stream(sim: SimServer) -> None:
    client = anthropic.AsyncAnthropic(api_key="k", base_url=sim.base_url, max_retries=0)
    text = await client.messages.create(model="sim-honest", max_tokens=64,
                                        messages=[{"role": "user", "content": QUESTION}])
    assert text.content[0].text == "Canberra." and text.stop_reason == "end_turn"

    tool = await client.messages.create(
        model="sim-honest", max_tokens=64, messages=[{"role": "user", "content": "weather?"}],
        tools=[{"name": "get_weather", "input_schema": WEATHER_TOOL}], tool_choice={"type": "any"})
    assert tool.stop_reason == "tool_use" and tool.content[0].name == "get_weather"

    async with client.messages.stream(model="sim-honest", max_tokens=64,
                                      messages=[{"role": "user", "content": QUESTION}]) as stream:
        streamed = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert streamed == "Canberra." and final.usage.output_tokens > 0
    await client.close()


async def test_gemini_text_tool_and_stream(sim: SimServer) -> None:
    client = genai.Client(api_key="k", http_options=gtypes.HttpOptions(base_url=sim.base_url))
    text = await client.aio.models.generate_content(model="sim-honest", contents=QUESTION)
    assert text.text == "Canberra."
    assert text.usage_metadata.prompt_token_count > 0

    tool = await client.aio.models.generate_content(
        model="sim-honest", contents="weather?",
        config=gtypes.GenerateContentConfig(
            tools=[gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
                name="get_weather", parameters_json_schema=WEATHER_TOOL)])],
            tool_config=gtypes.ToolConfig(function_calling_config=gtypes.FunctionCallingConfig(mode="ANY")),
            automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True)))
    assert tool.function_calls[0].name == "get_weather"

    stream = await client.aio.models.generate_content_stream(model="sim-honest", contents=QUESTION)
    assert "".join([c.text or "" async for c in stream]) == "Canberra."


async def test_every_response_is_labelled_simulated(sim: SimServer) -> None:
    client = _openai(sim)
    raw = await client.chat.completions.with_raw_response.create(
        model="sim-honest", messages=[{"role": "user", "content": QUESTION}])
    assert raw.headers["x-aegis-simulated"] == "true"
    assert raw.parse().system_fingerprint == "aegis-sim"
    await client.close()

"""The function-backed endpoint through the gateway: text, tool calls, usage and cost, streaming,
provider errors and fallback; and the in-process simulator it carries."""

from __future__ import annotations

import asyncio

import pytest

from aegis_ray.config import RetryPolicy
from aegis_ray.errors import (
    AllModelsFailedError,
    MalformedToolArgumentsError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitedError,
    UnknownModelError,
)
from aegis_ray.providers import (
    FunctionInfo,
    FunctionModel,
    FunctionReply,
    Gateway,
    function_endpoint,
    function_models,
)
from aegis_ray.providers.pricing import cost_usd, price_for
from aegis_ray.sim import FaultKind, ModelProfile, Script, SimConfig, Turn
from aegis_ray.sim.inprocess import InProcessSim, sim_function
from aegis_ray.types import Message, ModelRequest, StreamEnd, TextDelta, ToolCall, ToolCallEvent, ToolSpec, Usage
from tests.helpers import FAST_RETRY

pytestmark = pytest.mark.unit

QUESTION = ModelRequest(messages=(Message.system("Be brief."), Message.user("What is the capital of Australia?")))
WITH_TOOL = ModelRequest(messages=(Message.user("write the file"),),
                         tools=(ToolSpec(name="write_file", description="Write a file."),), tool_choice="required")


def echo_or_call(messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply | str:
    if info.tools and messages[-1].role != "tool":
        return FunctionReply(tool_calls=[(info.tools[0].name, {"path": "a.txt", "content": "hi"})])
    return f"{info.model} heard: {messages[-1].content}"


async def test_text_through_the_gateway_with_estimated_usage_and_its_price() -> None:
    models = function_models(echo_or_call)
    completion = await Gateway(models, ["sim:sim-honest"]).complete(QUESTION)
    await models.aclose()
    assert completion.text == "sim:sim-honest heard: What is the capital of Australia?"
    assert completion.model == "sim:sim-honest" and completion.response_model == "sim-honest"
    assert completion.finish_reason == "stop" and completion.simulated and completion.attempts == 1
    assert completion.usage.input_tokens > 0 and completion.usage.output_tokens > 0
    assert completion.cost_usd > 0
    assert completion.cost_usd == pytest.approx(cost_usd(price_for("sim-honest"), completion.usage))


async def test_tool_calls_get_ids_and_parsed_arguments_and_stated_usage_is_kept() -> None:
    seen: list[FunctionInfo] = []

    async def caller(messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply:
        seen.append(info)
        await asyncio.sleep(0)
        return FunctionReply(tool_calls=[("write_file", '{"path": "a.txt"}'),
                                         ToolCall(id="mine", name="write_file", arguments={"path": "b.txt"})],
                             usage=Usage(input_tokens=7, output_tokens=3))

    completion = await Gateway(lambda _: FunctionModel(caller, "openai:gpt-4o-mini"), ["openai:gpt-4o-mini"]).complete(
        WITH_TOOL)
    first, second = completion.tool_calls
    assert (first.name, first.arguments) == ("write_file", {"path": "a.txt"}) and first.id.startswith("call_")
    assert second.id == "mine" and second.arguments == {"path": "b.txt"}
    assert completion.finish_reason == "tool_calls" and completion.usage == Usage(input_tokens=7, output_tokens=3)
    assert completion.cost_usd is None and not completion.simulated  # bare: no endpoint, so no pricing
    (info,) = seen
    assert info.model == "openai:gpt-4o-mini" and info.tools == WITH_TOOL.tools and not info.stream
    assert info.request.tool_choice == "required"


async def test_streaming_sends_the_text_in_pieces_then_the_tool_calls_then_the_completion() -> None:
    endpoint = function_endpoint(lambda _, __: FunctionReply(text="Canberra is the capital.",
                                                             tool_calls=[("note", {"x": 1})]),
                                 "sim:sim-honest", chunk_chars=5)
    events = [e async for e in Gateway(lambda _: endpoint, ["sim:sim-honest"]).stream(QUESTION)]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts[0] == "Canbe" and "".join(texts) == "Canberra is the capital."
    assert [e.tool_call.name for e in events if isinstance(e, ToolCallEvent)] == ["note"]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.completion.text == "Canberra is the capital."
    assert end.completion.cost_usd is not None and end.completion.usage.total_tokens > 0


async def test_provider_errors_are_retried_then_fall_over_to_the_next_model() -> None:
    calls: list[str] = []

    def down_then_up(_: tuple[Message, ...], info: FunctionInfo) -> str:
        calls.append(info.model)
        if info.model == "sim:sim-flaky" and calls.count("sim:sim-flaky") < 3:
            raise RateLimitedError("slow down", model=info.model, retry_after_s=0.01)
        if info.model.startswith("sim:sim-broken"):
            raise ProviderServerError("HTTP 500", model=info.model, status=500)
        return "ok"

    models = function_models(down_then_up, retry=FAST_RETRY)
    assert (await Gateway(models, ["sim:sim-flaky"]).complete(QUESTION)).attempts == 3
    answered = await Gateway(models, ["sim:sim-broken", "sim:sim-honest"]).complete(QUESTION)
    assert answered.model == "sim:sim-honest" and calls.count("sim:sim-broken") == FAST_RETRY.max_attempts
    with pytest.raises(AllModelsFailedError):
        await Gateway(models, ["sim:sim-broken", "sim:sim-broken-too"]).complete(QUESTION)
    await models.aclose()


async def test_malformed_tool_arguments_and_timeouts_are_typed() -> None:
    bad = FunctionModel(lambda _, __: FunctionReply(tool_calls=[("write_file", "{not json")]), "sim:x")
    with pytest.raises(MalformedToolArgumentsError) as caught:
        await Gateway(lambda _: bad, ["sim:x"]).complete(WITH_TOOL)
    assert caught.value.tool_name == "write_file"

    async def slow(_: tuple[Message, ...], __: FunctionInfo) -> str:
        await asyncio.sleep(5)
        return "late"

    endpoint = function_endpoint(slow, "sim:slow", timeout_s=0.05, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderTimeoutError):
        await Gateway(lambda _: endpoint, ["sim:slow"]).complete(QUESTION)
    with pytest.raises(TypeError, match="not a FunctionReply"):
        await FunctionModel(lambda _, __: 42, "sim:x").complete(QUESTION)  # type: ignore[arg-type, return-value]


# --- the simulator in-process --------------------------------------------------------------------


async def test_the_in_process_simulator_answers_with_its_personas_scripts_and_faults() -> None:
    sim = InProcessSim(SimConfig(models={"sim-honest-scripted": ModelProfile(script=Script(turns=[
        Turn(text="first"), Turn(tool_calls=[{"name": "write_file", "arguments": {"path": "x"}}])])),
        "sim-honest*": ModelProfile()}))
    models = sim.models(retry=FAST_RETRY)
    honest = await Gateway(models, ["sim:sim-honest"]).complete(QUESTION)
    assert honest.text == "Canberra." and honest.cost_usd and honest.simulated
    forced = await Gateway(models, ["sim:sim-honest"]).complete(WITH_TOOL)
    assert [c.name for c in forced.tool_calls] == ["write_file"]  # the tool choice applies
    scripted = await Gateway(models, ["sim:sim-honest-scripted"]).complete(QUESTION)
    assert scripted.text == "first"
    sim.inject("sim-honest", FaultKind.SERVER_ERROR, times=FAST_RETRY.max_attempts)
    with pytest.raises(ProviderServerError):
        await Gateway(models, ["sim:sim-honest"]).complete(QUESTION)
    sim.inject("sim-honest", FaultKind.MALFORMED_TOOL_ARGS, times=FAST_RETRY.max_attempts)
    with pytest.raises(MalformedToolArgumentsError):
        await Gateway(models, ["sim:sim-honest"]).complete(WITH_TOOL)
    with pytest.raises(UnknownModelError):
        await Gateway(models, ["sim:nobody"]).complete(QUESTION)
    await models.aclose()
    one = function_models(sim_function(ModelProfile(script=Script(turns=[Turn(text="same for all")]))))
    assert (await Gateway(one, ["sim:anything"]).complete(QUESTION)).text == "same for all"
    await one.aclose()

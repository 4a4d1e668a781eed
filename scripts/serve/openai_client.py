"""The official OpenAI client against `quarry serve`, unchanged but for the
base URL: plain and streamed chat completions, usage counts, the profile
passed in `extra_body` and in a system message, and an API error.

Usage: python openai_client.py http://127.0.0.1:PORT/v1
"""
import json
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0)


def content_of(messages, **extra):
    reply = client.chat.completions.create(model="quarry", messages=messages, **extra)
    assert reply.object == "chat.completion", reply
    assert reply.choices[0].finish_reason == "stop", reply
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    return reply.choices[0].message.content


query = "senior rust engineer jobs in naples"
plain = json.loads(content_of([{"role": "user", "content": query}]))
assert plain["query"] == query and plain["intent"], plain

# The profile breaks the tie between the Naples in Florida and in Italy.
for country, profile in [
    ("United States", {"location": "Naples, Florida, United States"}),
    ("Italy", {"location": "Naples, Campania, Italy"}),
]:
    via_extra = json.loads(content_of([{"role": "user", "content": query}], extra_body={"profile": profile}))
    via_system = json.loads(content_of([
        {"role": "system", "content": json.dumps(profile)},
        {"role": "user", "content": query},
    ]))
    assert via_extra == via_system, (via_extra, via_system)
    places = [t["arguments"].get("resolved") for t in via_extra["tools"] if t["name"] == "location_tool"]
    for place in places:
        assert place is None or place["country"] == country, (country, place)

# Streamed: the deltas concatenate to the plain content.
messages = [{"role": "user", "content": "remote data scientist jobs at google posted this week"}]
whole = content_of(messages)
pieces, usage = [], None
for chunk in client.chat.completions.create(
    model="quarry", messages=messages, stream=True, stream_options={"include_usage": True}
):
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
streamed = "".join(pieces)
# posted_after is clock-dependent (seconds); compare the rest exactly.
a, b = json.loads(streamed), json.loads(whole)
for output in (a, b):
    for tool in output["tools"]:
        tool["arguments"].pop("posted_after", None)
assert a == b, (streamed, whole)
assert usage is not None and usage.total_tokens > 0, usage

# A bad request is an APIError with the server's message.
try:
    client.chat.completions.create(model="quarry", messages=[{"role": "user", "content": "   "}])
except openai.UnprocessableEntityError as e:
    assert "query" in str(e), e
else:
    raise AssertionError("an empty query was accepted")

print("openai client: ok")

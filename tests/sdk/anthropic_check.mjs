// The official Anthropic TypeScript SDK, unchanged, against the gateway's Messages API
// (POST /v1/messages, /v1/messages/count_tokens) in front of a chat-only upstream: buffered and
// streamed messages, a tool_use -> tool_result round trip both ways, usage, a wrong key, and
// count_tokens. Run by scripts/sdk-check.sh; exits non-zero on the first mismatch.
// The key goes both ways Anthropic clients send it: SDK 1.x sends `apiKey` as
// `Authorization: Bearer`; curl, the older SDKs and most tools send `x-api-key`.
//   node anthropic_check.mjs GATEWAY_ROOT KEY      (the root: the SDK adds /v1/messages itself)
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
// The same client sending only x-api-key: default headers come after the SDK's auth header,
// and a null one removes it.
const xApiKey = (key) => new Anthropic({
  baseURL, apiKey: "unused", maxRetries: 0, timeout: 10_000,
  defaultHeaders: { "x-api-key": key, authorization: null },
});
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const model = "claude-sonnet-4-5";
const show = (v) => JSON.stringify(v);

// The mock upstream answers a plain prompt with this fixed sentence, a request with tools with
// a call to the first tool ({"city":"Paris"}), and a tool result with "Tool said: <result>".
const reply = "Hello from ditto-mock-upstream. This reply is deterministic.";
const tools = [{
  name: "get_weather", description: "Current weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const question = { role: "user", content: "What is the weather in Paris?" };

function checkUsage(m, what) {
  if (!(m.usage?.input_tokens > 0 && m.usage?.output_tokens > 0)) fail(`${what}: usage ${show(m.usage)}`);
}

function checkMessage(m, what) {
  if (m.type !== "message" || m.role !== "assistant" || !m.id) fail(`${what}: not a message: ${show(m)}`);
  if (!Array.isArray(m.content)) fail(`${what}: content ${show(m.content)}`);
  checkUsage(m, what);
}

const textOf = (m) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

function toolUseOf(m, what) {
  checkMessage(m, what);
  if (m.stop_reason !== "tool_use") fail(`${what}: stop_reason ${m.stop_reason}`);
  const use = m.content.find((b) => b.type === "tool_use");
  if (!use?.id || use.name !== "get_weather" || use.input?.city !== "Paris") fail(`${what}: tool_use ${show(m.content)}`);
  return use;
}

// The conversation that answers a tool_use: the assistant turn as it came, then the result.
const withResult = (m, use) => [
  question,
  { role: "assistant", content: m.content },
  { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "22C and sunny" }] },
];

// Buffered.
const msg = await client.messages.create({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
checkMessage(msg, "messages");
if (msg.stop_reason !== "end_turn" || textOf(msg) !== reply) fail(`messages: ${msg.stop_reason} ${show(msg.content)}`);
console.log("messages ok:", textOf(msg), show(msg.usage));

const viaHeader = await xApiKey(apiKey).messages.create({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
checkMessage(viaHeader, "messages (x-api-key)");
if (textOf(viaHeader) !== reply) fail("messages (x-api-key): " + show(viaHeader.content));
console.log("messages (x-api-key) ok");

// Streamed: text deltas as they come, and the message the SDK assembles from the events
// (message_start, content_block_*, message_delta with the usage, message_stop).
const stream = client.messages.stream({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
let deltas = "";
stream.on("text", (t) => { deltas += t; });
const streamed = await stream.finalMessage();
checkMessage(streamed, "messages stream");
if (deltas !== reply || textOf(streamed) !== reply) fail(`messages stream: deltas ${show(deltas)}, final ${show(streamed.content)}`);
if (streamed.stop_reason !== "end_turn") fail("messages stream: stop_reason " + streamed.stop_reason);
console.log("messages stream ok:", deltas, show(streamed.usage));

// Tool round trip, buffered.
const call = await client.messages.create({ model, max_tokens: 64, tools, messages: [question] });
const use = toolUseOf(call, "tool_use");
const answer = await client.messages.create({ model, max_tokens: 64, tools, messages: withResult(call, use) });
checkMessage(answer, "tool_result");
if (answer.stop_reason !== "end_turn" || textOf(answer) !== "Tool said: 22C and sunny")
  fail(`tool_result: ${answer.stop_reason} ${show(answer.content)}`);
console.log("tools ok:", show(use.input), "->", textOf(answer));

// Tool round trip, streamed: the SDK rebuilds the tool input from input_json_delta events.
const callStream = client.messages.stream({ model, max_tokens: 64, tools, messages: [question] });
let partialJson = "";
callStream.on("inputJson", (delta) => { partialJson += delta; });
const streamedCall = await callStream.finalMessage();
const streamedUse = toolUseOf(streamedCall, "tool_use stream");
if (JSON.parse(partialJson).city !== "Paris") fail("tool_use stream: input_json_delta " + partialJson);
const streamedAnswer = await client.messages.stream({
  model, max_tokens: 64, tools, messages: withResult(streamedCall, streamedUse) }).finalMessage();
checkMessage(streamedAnswer, "tool_result stream");
if (textOf(streamedAnswer) !== "Tool said: 22C and sunny") fail("tool_result stream: " + show(streamedAnswer.content));
console.log("tools stream ok:", partialJson, "->", textOf(streamedAnswer));

// count_tokens: an estimate, but a positive one.
const count = await client.messages.countTokens({ model, tools, messages: [question] });
if (!(Number.isInteger(count.input_tokens) && count.input_tokens > 0)) fail("count_tokens: " + show(count));
console.log("count_tokens ok:", count.input_tokens);

// A wrong key, either way: 401 in Anthropic's error shape, which the SDK maps to
// AuthenticationError.
for (const [how, wrong] of [["bearer", new Anthropic({ baseURL, apiKey: "wrong", maxRetries: 0 })], ["x-api-key", xApiKey("wrong")]]) {
  try {
    await wrong.messages.create({ model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    fail(`a wrong key (${how}) was accepted`);
  } catch (e) {
    if (!(e instanceof Anthropic.AuthenticationError) || e.status !== 401) fail(`wrong key (${how}): ${e}`);
    if (e.error?.type !== "error" || e.error?.error?.type !== "authentication_error" || !e.error?.error?.message)
      fail(`wrong key (${how}): not Anthropic's error shape: ${show(e.error)}`);
    console.log(`auth error (${how}) ok:`, e.message);
  }
}
console.log("anthropic-sdk", (await import("@anthropic-ai/sdk/version")).VERSION, "works through the gateway");

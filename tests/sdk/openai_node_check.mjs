// The official OpenAI Node SDK against a running gateway: chat, streaming chat, embeddings,
// models, and the Responses API (buffered and streamed, each with a function tool round trip)
// that the gateway answers through chat completions when the upstream has no /v1/responses.
// Run by scripts/sdk-check.sh; exits non-zero on the first mismatch.
//   node openai_node_check.mjs BASE_URL KEY [all|chat|responses]
import OpenAI from "openai";

const [baseURL, apiKey, part = "all"] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };

if (part === "all" || part === "chat") {
  const chat = await client.chat.completions.create({
    model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
  if (!chat.choices?.[0]?.message?.content?.startsWith("Hello")) fail("chat content");
  if (!(chat.usage?.total_tokens > 0)) fail("chat usage");
  console.log("chat ok:", chat.choices[0].message.content);

  let text = "", usage = null;
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true },
    messages: [{ role: "user", content: "hi" }] });
  for await (const chunk of stream) {
    text += chunk.choices?.[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  if (text !== chat.choices[0].message.content) fail("streamed text differs: " + text);
  if (!usage) fail("stream usage chunk");
  console.log("stream ok:", text);

  await chatToolRoundTrip();

  const emb = await client.embeddings.create({ model: "text-embedding-3-small", input: "hi" });
  if (emb.data?.[0]?.embedding?.length !== 4) fail("embeddings");
  console.log("embeddings ok");

  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  if (!models.includes("gpt-4o-mini")) fail("models: " + models.join(","));
  const one = await client.models.retrieve("gpt-4o");
  if (one.id !== "gpt-4o") fail("models.retrieve");
  console.log("models ok:", models.join(","));

  try {
    await new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 }).models.list();
    fail("a wrong key was accepted");
  } catch (e) {
    if (e.status !== 401 || e.code !== "invalid_api_key") fail("wrong key: " + e);
    console.log("auth error ok:", e.message);
  }
}

if (part === "all" || part === "responses") {
  await responsesRoundTrip();
  await responsesStreamRoundTrip();
}
console.log("openai-node", (await import("openai/version")).VERSION, "works through the gateway");

// The function tool both Responses round trips offer; the mock upstream calls the first tool
// with its required string parameters set to "Paris", and after a tool result answers
// "Tool said: <result>".
function weatherTool() {
  return {
    type: "function", name: "get_weather", description: "Current weather in a city", strict: false,
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  };
}

function checkResponsesUsage(r, what) {
  const u = r.usage;
  if (!(u?.input_tokens > 0 && u?.output_tokens > 0 && u?.total_tokens >= u.input_tokens + u.output_tokens))
    fail(`${what}: usage ${JSON.stringify(u)}`);
}

function functionCallOf(r, what) {
  if (r.status !== "completed") fail(`${what}: status ${r.status}`);
  const call = r.output?.find((o) => o.type === "function_call");
  if (!call) fail(`${what}: no function_call item in ${JSON.stringify(r.output)}`);
  if (call.name !== "get_weather" || !call.call_id) fail(`${what}: function_call ${JSON.stringify(call)}`);
  if (JSON.parse(call.arguments).city !== "Paris") fail(`${what}: arguments ${call.arguments}`);
  return call;
}

// First call: the model calls the tool. Second: the caller sends the whole conversation back
// (no previous_response_id: a chat-only upstream stores nothing) with the tool's output.
async function responsesRoundTrip() {
  const input = [{ role: "user", content: "What is the weather in Paris?" }];
  const { data: first, response: head } = await client.responses
    .create({ model: "gpt-4o-mini", input, tools: [weatherTool()] }).withResponse();
  // The gateway says when it answered through chat completions (the mock has no /v1/responses).
  const shim = head.headers.get("x-ditto-shim");
  if (shim !== "responses_via_chat_completions") fail("responses: x-ditto-shim " + shim);
  const call = functionCallOf(first, "responses");
  checkResponsesUsage(first, "responses (call)");
  const second = await client.responses.create({
    model: "gpt-4o-mini", tools: [weatherTool()],
    input: [...input, call, { type: "function_call_output", call_id: call.call_id, output: "22C and sunny" }],
  });
  if (second.status !== "completed") fail("responses (answer): status " + second.status);
  if (second.output_text !== "Tool said: 22C and sunny") fail("responses (answer): text " + JSON.stringify(second.output_text));
  checkResponsesUsage(second, "responses (answer)");
  console.log("responses ok:", call.name, call.arguments, "->", second.output_text);
}

// The same round trip streamed: the call arrives as output_item / arguments events, the answer
// as output_text deltas; response.completed carries the final response with usage.
async function responsesStreamRoundTrip() {
  const input = [{ role: "user", content: "What is the weather in Paris?" }];
  const collect = async (params, what) => {
    const stream = await client.responses.create({ ...params, stream: true });
    let text = "", args = "", completed = null;
    const types = [];
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.function_call_arguments.delta") args += ev.delta;
      if (ev.type === "response.completed") completed = ev.response;
      if (ev.type === "response.failed" || ev.type === "error") fail(`${what}: ${JSON.stringify(ev)}`);
    }
    if (types[0] !== "response.created") fail(`${what}: first event ${types[0]}`);
    if (!completed) fail(`${what}: no response.completed in ${types.join(",")}`);
    checkResponsesUsage(completed, what);
    return { text, args, completed, types };
  };
  const first = await collect({ model: "gpt-4o-mini", input, tools: [weatherTool()] }, "responses stream (call)");
  const call = functionCallOf(first.completed, "responses stream (call)");
  if (first.args !== call.arguments) fail(`responses stream (call): argument deltas ${first.args} vs ${call.arguments}`);
  for (const t of ["response.output_item.added", "response.function_call_arguments.done", "response.output_item.done"])
    if (!first.types.includes(t)) fail(`responses stream (call): no ${t} in ${first.types.join(",")}`);
  const second = await collect({
    model: "gpt-4o-mini", tools: [weatherTool()],
    input: [...input, call, { type: "function_call_output", call_id: call.call_id, output: "22C and sunny" }],
  }, "responses stream (answer)");
  if (second.text !== "Tool said: 22C and sunny") fail("responses stream (answer): deltas " + JSON.stringify(second.text));
  const final = second.completed.output?.find((o) => o.type === "message")?.content?.find((c) => c.type === "output_text")?.text;
  if (final !== second.text) fail("responses stream (answer): completed text " + JSON.stringify(final));
  console.log("responses stream ok:", call.arguments, "->", second.text);
}

// Chat completions with a tool, buffered then streamed: the call (streamed as tool_calls deltas
// whose arguments arrive in pieces), then the answer to the tool's result.
async function chatToolRoundTrip() {
  const tools = [{ type: "function", function: { name: weatherTool().name, parameters: weatherTool().parameters } }];
  const messages = [{ role: "user", content: "What is the weather in Paris?" }];
  const first = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools });
  const choice = first.choices?.[0];
  const call = choice?.message?.tool_calls?.[0];
  if (choice?.finish_reason !== "tool_calls" || call?.function?.name !== "get_weather")
    fail("chat tool call: " + JSON.stringify(choice));
  if (JSON.parse(call.function.arguments).city !== "Paris") fail("chat tool call arguments: " + call.function.arguments);

  let args = "", name = "", id = "", finish = null, usage = null;
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini", messages, tools, stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) {
    const c = chunk.choices?.[0];
    for (const tc of c?.delta?.tool_calls ?? []) {
      if (tc.index !== 0) fail("chat tool stream: index " + tc.index);
      id ||= tc.id ?? ""; name ||= tc.function?.name ?? ""; args += tc.function?.arguments ?? "";
    }
    if (c?.finish_reason) finish = c.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  if (finish !== "tool_calls" || name !== "get_weather" || !id || args !== call.function.arguments || !usage)
    fail(`chat tool stream: ${finish} ${name} ${id} ${args} ${JSON.stringify(usage)}`);

  const answer = await client.chat.completions.create({
    model: "gpt-4o-mini", tools,
    messages: [...messages, choice.message, { role: "tool", tool_call_id: call.id, content: "22C and sunny" }] });
  if (answer.choices?.[0]?.message?.content !== "Tool said: 22C and sunny")
    fail("chat tool answer: " + JSON.stringify(answer.choices?.[0]));
  console.log("chat tools ok:", call.function.arguments, "->", answer.choices[0].message.content);
}

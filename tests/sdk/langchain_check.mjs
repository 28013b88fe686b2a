// LangChain's ChatOpenAI (`@langchain/openai`), unchanged, against the gateway: invoke and
// stream with usage_metadata, and a bound tool's round trip, over chat completions (its default
// for these models) and, with useResponsesApi, over the Responses API (which the gateway answers
// through chat completions when the upstream lacks it). Run by scripts/sdk-check.sh; exits
// non-zero on the first mismatch.
//   node langchain_check.mjs BASE_URL KEY [all|chat|responses]
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";

const [baseURL, apiKey, part = "all"] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const show = (v) => JSON.stringify(v);

// The mock upstream answers a plain prompt with this fixed sentence, a request with tools with
// a call to the first tool ({"city":"Paris"}), and a tool result with "Tool said: <result>".
const reply = "Hello from ditto-mock-upstream. This reply is deterministic.";
const weather = {
  type: "function",
  function: {
    name: "get_weather", description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

function checkUsage(m, what) {
  const u = m.usage_metadata;
  if (!(u?.input_tokens > 0 && u?.output_tokens > 0 && u?.total_tokens === u.input_tokens + u.output_tokens))
    fail(`${what}: usage_metadata ${show(u)}`);
}

// LangChain message content is a string over chat completions, a list of blocks over Responses.
const textOf = (m) => typeof m.content === "string" ? m.content
  : m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

async function check(label, llm) {
  const msg = await llm.invoke("hi");
  if (textOf(msg) !== reply) fail(`${label} invoke: ${show(msg.content)}`);
  checkUsage(msg, `${label} invoke`);
  console.log(`${label} invoke ok:`, textOf(msg), show(msg.usage_metadata));

  // Chunks add up (concat) to one message; the usage arrives in the last one.
  let whole = null, chunks = 0;
  for await (const chunk of await llm.stream("hi")) {
    whole = whole ? whole.concat(chunk) : chunk;
    chunks++;
  }
  if (chunks < 2 || textOf(whole) !== reply) fail(`${label} stream: ${chunks} chunks, ${show(whole?.content)}`);
  checkUsage(whole, `${label} stream`);
  console.log(`${label} stream ok:`, chunks, "chunks", show(whole.usage_metadata));

  const withTools = llm.bindTools([weather]);
  const question = new HumanMessage("What is the weather in Paris?");
  const call = await withTools.invoke([question]);
  const tc = call.tool_calls?.[0];
  if (tc?.name !== "get_weather" || tc?.args?.city !== "Paris" || !tc?.id) fail(`${label} tool call: ${show(call.tool_calls)}`);
  const answer = await withTools.invoke([question, call, new ToolMessage({ tool_call_id: tc.id, content: "22C and sunny" })]);
  if (textOf(answer) !== "Tool said: 22C and sunny") fail(`${label} tool answer: ${show(answer.content)}`);
  console.log(`${label} tools ok:`, show(tc.args), "->", textOf(answer));
}

const options = { model: "gpt-4o-mini", apiKey, configuration: { baseURL }, maxRetries: 0, timeout: 10_000 };
if (part === "all" || part === "chat") await check("chat", new ChatOpenAI(options));
if (part === "all" || part === "responses") await check("responses", new ChatOpenAI({ ...options, useResponsesApi: true }));
console.log("langchain works through the gateway");

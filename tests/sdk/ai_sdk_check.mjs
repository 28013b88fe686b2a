// The Vercel AI SDK (`ai` + `@ai-sdk/openai`), unchanged, against the gateway: generateText and
// streamText, each with a tool loop (call, execute, answer), through both of the provider's
// model kinds: `openai(model)`, the default, speaks the Responses API (which the gateway answers
// through chat completions when the upstream lacks it), and `openai.chat(model)` speaks chat
// completions. Run by scripts/sdk-check.sh; exits non-zero on the first mismatch.
//   node ai_sdk_check.mjs BASE_URL KEY [all|chat|responses]
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

const [baseURL, apiKey, part = "all"] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const show = (v) => JSON.stringify(v);

// The mock upstream answers a plain prompt with this fixed sentence, a request with tools with
// a call to the first tool ({"city":"Paris"}), and a tool result with "Tool said: <result>".
const reply = "Hello from ditto-mock-upstream. This reply is deterministic.";
const answer = "Tool said: 22C and sunny in Paris";
const tools = {
  get_weather: tool({
    description: "Current weather in a city",
    inputSchema: jsonSchema({
      type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false,
    }),
    execute: async ({ city }) => `22C and sunny in ${city}`,
  }),
};
// No retries: a failure shows at once, with the gateway's answer in the message.
const common = { maxRetries: 0, abortSignal: AbortSignal.timeout(20_000) };

function checkUsage(u, what) {
  if (!(u?.inputTokens > 0 && u?.outputTokens > 0)) fail(`${what}: usage ${show(u)}`);
}

// The two steps of a tool loop: a call with {"city":"Paris"}, then text quoting the result.
function checkToolSteps(steps, what) {
  if (steps.length !== 2) fail(`${what}: ${steps.length} steps: ${show(steps.map((s) => s.finishReason))}`);
  const call = steps[0].toolCalls?.[0];
  if (steps[0].finishReason !== "tool-calls" || call?.toolName !== "get_weather" || call?.input?.city !== "Paris")
    fail(`${what}: first step ${steps[0].finishReason} ${show(steps[0].toolCalls)}`);
  if (steps[0].toolResults?.[0]?.output !== "22C and sunny in Paris") fail(`${what}: tool result ${show(steps[0].toolResults)}`);
  if (steps[1].text !== answer) fail(`${what}: answer ${show(steps[1].text)}`);
}

async function check(label, model) {
  const gen = await generateText({ ...common, model, prompt: "hi" });
  if (gen.text !== reply || gen.finishReason !== "stop") fail(`${label} generateText: ${gen.finishReason} ${show(gen.text)}`);
  checkUsage(gen.usage, `${label} generateText`);
  console.log(`${label} generateText ok:`, gen.text, show(gen.usage.inputTokens), show(gen.usage.outputTokens));

  // streamText reports failures through onError rather than by throwing.
  const onError = ({ error }) => fail(`${label} streamText: ${error?.message ?? error}`);
  const st = streamText({ ...common, model, prompt: "hi", onError });
  let text = "";
  for await (const delta of st.textStream) text += delta;
  if (text !== reply || (await st.finishReason) !== "stop") fail(`${label} streamText: ${show(text)}`);
  checkUsage(await st.usage, `${label} streamText`);
  console.log(`${label} streamText ok:`, text);

  const loop = await generateText({ ...common, model, tools, stopWhen: stepCountIs(3), prompt: "Weather in Paris?" });
  checkToolSteps(loop.steps, `${label} generateText tools`);
  checkUsage(loop.totalUsage, `${label} generateText tools`);
  console.log(`${label} generateText tools ok:`, loop.text);

  const sl = streamText({ ...common, model, tools, stopWhen: stepCountIs(3), prompt: "Weather in Paris?", onError });
  let streamed = "";
  for await (const delta of sl.textStream) streamed += delta;
  checkToolSteps(await sl.steps, `${label} streamText tools`);
  if (streamed !== answer) fail(`${label} streamText tools: text ${show(streamed)}`);
  checkUsage(await sl.totalUsage, `${label} streamText tools`);
  console.log(`${label} streamText tools ok:`, streamed);
}

if (part === "all" || part === "chat") await check("chat", openai.chat("gpt-4o-mini"));
if (part === "all" || part === "responses") await check("responses", openai("gpt-4o-mini"));
console.log("ai-sdk works through the gateway");

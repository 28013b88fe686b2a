// The official OpenAI Node SDK against a running gateway: chat, streaming chat, embeddings,
// models. Run by scripts/sdk-check.sh; exits non-zero on the first mismatch.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };

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
console.log("openai-node", (await import("openai/version")).VERSION, "works through the gateway");

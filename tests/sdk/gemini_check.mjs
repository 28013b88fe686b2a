// Gemini's REST API (generateContent, streamGenerateContent?alt=sse) against the gateway in front
// of a chat-only upstream, with plain fetch as Google's own REST samples do: the key in
// x-goog-api-key and in ?key=, a functionCall -> functionResponse round trip both ways,
// usageMetadata, a wrong key. Run by scripts/sdk-check.sh; exits non-zero on the first mismatch.
//   node gemini_check.mjs GATEWAY_ROOT KEY
const [root, key] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const show = (v) => JSON.stringify(v);
const model = "gemini-2.5-flash";

// The mock upstream answers a plain prompt with this fixed sentence, a request with tools with
// a call to the first tool ({"city":"Paris"}), and a tool result with "Tool said: <result>".
const reply = "Hello from ditto-mock-upstream. This reply is deterministic.";
// Gemini's schema types are upper case (Type.OBJECT, Type.STRING in Google's SDKs).
const tools = [{
  functionDeclarations: [{
    name: "get_weather", description: "Current weather in a city",
    parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] },
  }],
}];
const question = { role: "user", parts: [{ text: "What is the weather in Paris?" }] };
const hi = { contents: [{ role: "user", parts: [{ text: "hi" }] }] };

// auth "header": x-goog-api-key; "query": ?key= (what curl samples and some clients use).
async function call(method, body, auth, apiKey = key) {
  const query = method === "streamGenerateContent" ? ["alt=sse"] : [];
  if (auth === "query") query.push("key=" + encodeURIComponent(apiKey));
  const url = `${root}/v1beta/models/${model}:${method}${query.length ? "?" + query.join("&") : ""}`;
  const headers = { "content-type": "application/json" };
  if (auth === "header") headers["x-goog-api-key"] = apiKey;
  return fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
}

async function generate(body, auth, what) {
  const res = await call("generateContent", body, auth);
  const text = await res.text();
  if (res.status !== 200) fail(`${what}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

// The SSE events (each one GenerateContentResponse), merged the way clients do: the parts'
// text concatenated, the other parts collected, the last finishReason and usageMetadata kept.
async function stream(body, auth, what) {
  const res = await call("streamGenerateContent", body, auth);
  if (res.status !== 200) fail(`${what}: HTTP ${res.status} ${await res.text()}`);
  if (!res.headers.get("content-type")?.startsWith("text/event-stream")) fail(`${what}: content-type ${res.headers.get("content-type")}`);
  const raw = await res.text();
  const events = raw.split(/\r?\n\r?\n/).filter((e) => e.trim())
    .map((e) => e.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n"))
    .filter((d) => d).map((d) => JSON.parse(d));
  if (events.length < 2) fail(`${what}: ${events.length} events: ${raw}`);
  const merged = { text: "", parts: [], finishReason: undefined, usageMetadata: undefined, events: events.length };
  for (const ev of events) {
    const c = ev.candidates?.[0];
    for (const p of c?.content?.parts ?? []) {
      if (typeof p.text === "string") merged.text += p.text;
      else merged.parts.push(p);
    }
    if (c?.finishReason) merged.finishReason = c.finishReason;
    if (ev.usageMetadata) merged.usageMetadata = ev.usageMetadata;
  }
  return merged;
}

function checkUsage(u, what) {
  if (!(u?.promptTokenCount > 0 && u?.candidatesTokenCount > 0 && u?.totalTokenCount >= u.promptTokenCount + u.candidatesTokenCount))
    fail(`${what}: usageMetadata ${show(u)}`);
}

function candidateOf(r, what) {
  const c = r.candidates?.[0];
  if (c?.content?.role !== "model" || !Array.isArray(c.content.parts)) fail(`${what}: candidate ${show(r)}`);
  checkUsage(r.usageMetadata, what);
  return c;
}

const textOf = (c) => c.content.parts.filter((p) => typeof p.text === "string").map((p) => p.text).join("");

function checkFunctionCall(fc, what) {
  if (fc?.name !== "get_weather" || fc?.args?.city !== "Paris") fail(`${what}: functionCall ${show(fc)}`);
}

// The conversation that answers a functionCall: the model turn as it came, then the result.
const withResponse = (modelParts) => ({
  tools,
  contents: [
    question,
    { role: "model", parts: modelParts },
    { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { result: "22C and sunny" } } }] },
  ],
});

function checkToolAnswer(text, what) {
  // The tool message carries the functionResponse's `response` (an object, so as JSON).
  if (!text.startsWith("Tool said: ") || !text.includes("22C and sunny")) fail(`${what}: ${show(text)}`);
}

for (const auth of ["header", "query"]) {
  const r = await generate(hi, auth, `generateContent (${auth})`);
  const c = candidateOf(r, `generateContent (${auth})`);
  if (textOf(c) !== reply || c.finishReason !== "STOP") fail(`generateContent (${auth}): ${c.finishReason} ${show(c.content)}`);
  console.log(`generateContent (${auth} key) ok:`, textOf(c), show(r.usageMetadata));

  const s = await stream(hi, auth, `streamGenerateContent (${auth})`);
  if (s.text !== reply || s.finishReason !== "STOP") fail(`streamGenerateContent (${auth}): ${s.finishReason} ${show(s.text)}`);
  checkUsage(s.usageMetadata, `streamGenerateContent (${auth})`);
  console.log(`streamGenerateContent (${auth} key) ok:`, s.events, "events", show(s.usageMetadata));
}

// Function call round trip, buffered.
const fr = await generate({ tools, contents: [question] }, "header", "functionCall");
const fc = candidateOf(fr, "functionCall");
const callPart = fc.content.parts.find((p) => p.functionCall);
checkFunctionCall(callPart?.functionCall, "functionCall");
const ar = await generate(withResponse(fc.content.parts), "header", "functionResponse");
checkToolAnswer(textOf(candidateOf(ar, "functionResponse")), "functionResponse");
console.log("functionCall ok:", show(callPart.functionCall), "->", textOf(ar.candidates[0]));

// Function call round trip, streamed.
const fs = await stream({ tools, contents: [question] }, "query", "functionCall stream");
const streamedCall = fs.parts.find((p) => p.functionCall);
checkFunctionCall(streamedCall?.functionCall, "functionCall stream");
checkUsage(fs.usageMetadata, "functionCall stream");
const as = await stream(withResponse(fs.parts), "query", "functionResponse stream");
checkToolAnswer(as.text, "functionResponse stream");
checkUsage(as.usageMetadata, "functionResponse stream");
console.log("functionCall stream ok:", show(streamedCall.functionCall), "->", as.text);

// A wrong key: an error in Google's shape, {"error":{"code":N,"message":...,"status":...}}.
for (const auth of ["header", "query"]) {
  const res = await call("generateContent", hi, auth, "wrong");
  const body = await res.json().catch(() => null);
  if (![400, 401, 403].includes(res.status) || body?.error?.code !== res.status || !body?.error?.message || !body?.error?.status)
    fail(`wrong key (${auth}): HTTP ${res.status} ${show(body)}`);
  console.log(`auth error (${auth} key) ok:`, res.status, body.error.status);
}
console.log("gemini REST works through the gateway");

// Microbenchmark: CPU of the dialect translations (docs/dialects.md), against issue 20's
// targets: ≤ 10 µs per 1 KB request (request to chat + the buffered answer back) and ≤ 1 µs
// per streamed event (parse the chat chunk + emit the dialect's events).
// Build and run: bench/micro/run.sh
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "ditto/core/json_dom.hpp"
#include "ditto/dialect/dialect.hpp"

namespace {

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ~1 KB of conversation in each dialect's words.
std::string filler(std::size_t n) {
    std::string s;
    while (s.size() < n)
        s += "The quick brown fox jumps over the lazy dog. ";
    s.resize(n);
    return s;
}

const std::string text = filler(300);
const std::string anthropic_req =
    R"({"model":"claude-sonnet-4-5","max_tokens":512,"system":"You are terse.","messages":[)"
    R"({"role":"user","content":")" +
    text + R"("},{"role":"assistant","content":")" + text +
    R"("},{"role":"user","content":[{"type":"text","text":")" + text + R"("}]}]})";
const std::string responses_req =
    R"({"model":"gpt-4o-mini","instructions":"You are terse.","max_output_tokens":512,"input":[)"
    R"({"role":"user","content":")" +
    text + R"("},{"role":"assistant","content":")" + text +
    R"("},{"role":"user","content":[{"type":"input_text","text":")" + text + R"("}]}]})";
const std::string gemini_req =
    R"({"systemInstruction":{"parts":[{"text":"You are terse."}]},"contents":[)"
    R"({"role":"user","parts":[{"text":")" +
    text + R"("}]},{"role":"model","parts":[{"text":")" + text +
    R"("}]},{"role":"user","parts":[{"text":")" + text +
    R"("}]}],"generationConfig":{"maxOutputTokens":512}})";
const std::string chat_answer =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[)"
    R"({"index":0,"message":{"role":"assistant","content":")" +
    filler(400) +
    R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":250,"completion_tokens":90,)"
    R"("total_tokens":340}})";
const std::string chat_chunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",)"
    R"("choices":[{"index":0,"delta":{"content":" jumps"},"finish_reason":null}]})";

void request_and_answer(ditto::dialect::kind k, const std::string& req) {
    using namespace ditto;
    constexpr int n = 200'000;
    dialect::answer_context ac{"req-1", "m", 1};
    dialect::refusal why;
    std::size_t bytes = 0;
    const double c0 = cpu_seconds();
    for (int i = 0; i < n; ++i) {
        auto chat = dialect::request_to_chat(k, req, {"gemini-x", false}, why);
        auto back = dialect::answer_from_chat(k, chat_answer, ac);
        bytes += chat ? chat->size() : 0;
        bytes += back ? back->size() : 0;
    }
    const double per = (cpu_seconds() - c0) / n * 1e6;
    std::printf("%-9s %4zu B request → chat, %zu B answer back: %.2f µs CPU (target ≤ 10)%s\n",
                std::string(dialect::name(k)).c_str(), req.size(), chat_answer.size(), per,
                bytes ? "" : " [no output]");
}

void stream_events(ditto::dialect::kind k) {
    using namespace ditto;
    constexpr int n = 1'000'000;
    dialect::answer_context ac{"req-1", "m", 1};
    auto t = dialect::make_stream_translator(k, ac);
    std::string out;
    std::size_t bytes = 0;
    const double c0 = cpu_seconds();
    for (int i = 0; i < n; ++i) {
        core::json_dom dom;  // as the relay does: one parse per upstream event
        dom.parse(chat_chunk);
        out.clear();
        t->chunk(dom.root(), out);
        bytes += out.size();
    }
    const double per = (cpu_seconds() - c0) / n * 1e9;
    std::printf("%-9s streamed event (parse + translate): %.0f ns CPU (target ≤ 1000), %zu B out\n",
                std::string(dialect::name(k)).c_str(), per, bytes / n);
}

}  // namespace

int main() {
    using ditto::dialect::kind;
    request_and_answer(kind::responses, responses_req);
    request_and_answer(kind::anthropic, anthropic_req);
    request_and_answer(kind::gemini, gemini_req);
    for (auto k : {kind::responses, kind::anthropic, kind::gemini})
        stream_events(k);
}

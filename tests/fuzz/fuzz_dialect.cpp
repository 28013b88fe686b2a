// The dialect translations (src/dialect, docs/dialects.md) on hostile input from both sides:
// a client's request body in each dialect, and an upstream's chat answer, buffered or as a
// stream of chunks. Whatever comes in, what goes out must be valid JSON: a translated request
// is sent upstream as is, and a translated answer or event reaches a client's SDK.
//
// Input: byte 0 = which (bits 0-1: dialect responses/anthropic/gemini; bit 2: answer side
// instead of request side; bit 3: stream the answer as chunks split at '\n'), then the body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ditto/core/json_dom.hpp"
#include "ditto/dialect/dialect.hpp"
#include "fuzz_check.hpp"

namespace {

using ditto::core::json_dom;
namespace dialect = ditto::dialect;

bool valid_json(std::string_view text) {
    json_dom dom;
    return dom.parse(text);
}

// Every `data:` payload of an SSE text must be one JSON value.
void check_events(std::string_view sse) {
    std::size_t pos = 0;
    while (pos < sse.size()) {
        auto nl = sse.find('\n', pos);
        if (nl == std::string_view::npos)
            nl = sse.size();
        auto line = sse.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.starts_with("data: "))
            FUZZ_CHECK(valid_json(line.substr(6)));
        pos = nl + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    static constexpr dialect::kind kinds[] = {dialect::kind::responses, dialect::kind::anthropic,
                                              dialect::kind::gemini, dialect::kind::anthropic};
    const auto k = kinds[data[0] & 3];
    const bool answer = data[0] & 4;
    const bool stream = data[0] & 8;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

    if (!answer) {
        dialect::refusal why;
        auto chat = dialect::request_to_chat(k, body, {"gemini-x", stream}, why);
        if (chat) {
            FUZZ_CHECK(valid_json(*chat));
        } else {
            FUZZ_CHECK(!why.message.empty());
        }
        return 0;
    }
    const dialect::answer_context ac{"req-1", "m", 1};
    if (!stream) {
        if (auto out = dialect::answer_from_chat(k, body, ac))
            FUZZ_CHECK(valid_json(*out));
        // Responses errors are OpenAI's shape: relayed as the upstream sent them, as for chat.
        if (k != dialect::kind::responses) {
            const auto err = dialect::error_from_openai(k, 400 + data[0] % 200, body);
            FUZZ_CHECK(valid_json(err));
        }
        return 0;
    }
    auto t = dialect::make_stream_translator(k, ac);
    FUZZ_CHECK(t != nullptr);
    std::string out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto nl = body.find('\n', pos);
        if (nl == std::string_view::npos)
            nl = body.size();
        json_dom dom;
        if (dom.parse(body.substr(pos, nl - pos)) && dom.root().is_object())
            t->chunk(dom.root(), out);
        pos = nl + 1;
    }
    t->finish((data[0] & 16) != 0, out);
    check_events(out);
    return 0;
}

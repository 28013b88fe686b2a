#include "ditto/core/sse_usage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "shared/sse_feed.hpp"

namespace ditto::core {
namespace {

// One SSE event: `lines` joined by `eol`, ended by a blank line.
std::string event(std::initializer_list<std::string_view> lines, std::string_view eol = "\n") {
    std::string e;
    for (std::string_view l : lines) {
        e += l;
        e += eol;
    }
    e += eol;
    return e;
}

std::string data_event(std::string_view json, std::string_view eol = "\n") {
    return event({"data: " + std::string(json)}, eol);
}

using result = test::sse_feed_result;

// Feeds `stream` in pieces ending at `cuts` (ascending offsets), then finishes.
result run_cuts(std::string_view stream, bool strip, const std::vector<std::size_t>& cuts) {
    std::vector<std::size_t> lengths;
    std::size_t prev = 0;
    for (std::size_t c : cuts) {
        lengths.push_back(c - prev);
        prev = c;
    }
    return test::feed_in_pieces(stream, strip, lengths);
}

result run(std::string_view stream, bool strip, std::size_t piece = 0) {
    std::vector<std::size_t> cuts;
    if (piece > 0) {
        for (std::size_t c = piece; c < stream.size(); c += piece)
            cuts.push_back(c);
    }
    return run_cuts(stream, strip, cuts);
}

void expect_same_usage(const usage_fields& a, const usage_fields& b) {
    EXPECT_EQ(a.present, b.present);
    EXPECT_EQ(a.input, b.input);
    EXPECT_EQ(a.output, b.output);
    EXPECT_EQ(a.total, b.total);
    EXPECT_EQ(a.reasoning, b.reasoning);
    EXPECT_EQ(a.cached, b.cached);
    EXPECT_EQ(a.creation, b.creation);
}

constexpr std::string_view role_chunk =
    R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",)"
    R"("system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant",)"
    R"("content":""},"finish_reason":null}],"usage":null})";
constexpr std::string_view hello_chunk =
    R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",)"
    R"("choices":[{"index":0,"delta":{"content":"Hel\nlo \"x\""},"finish_reason":null}],)"
    R"("usage":null})";
constexpr std::string_view stop_chunk =
    R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",)"
    R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})";
constexpr std::string_view usage_chunk =
    R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],)"
    R"("usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}})";

// An OpenAI chat stream with include_usage; `with_usage` false gives what a client that did not
// ask for usage should see.
std::string chat_stream(std::string_view eol, bool with_usage = true) {
    std::string s =
        data_event(role_chunk, eol) + data_event(hello_chunk, eol) + data_event(stop_chunk, eol);
    if (with_usage)
        s += data_event(usage_chunk, eol);
    return s + data_event("[DONE]", eol);
}

TEST(SseUsage, ChatStreamUsageIsReadAndRelayedVerbatim) {
    const std::string in = chat_stream("\n");
    const result r = run(in, false);
    EXPECT_EQ(r.out, in);
    ASSERT_TRUE(r.usage.present);
    EXPECT_EQ(r.usage.input, 5u);
    EXPECT_EQ(r.usage.output, 9u);
    EXPECT_EQ(r.usage.total_tokens(), 14u);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.events, 5u);
    EXPECT_EQ(r.stripped, 0u);
}

// Anthropic reports the input in message_start (nested in `message`) and the final output in
// message_delta: each count keeps its last report.
TEST(SseUsage, AnthropicStartAndDeltaCombine) {
    const std::string in =
        event({"event: message_start",
               R"(data: {"type":"message_start","message":{"id":"m","usage":)"
               R"({"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":1}}})"}) +
        event(
            {"event: content_block_delta",
             R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}})"}) +
        event(
            {"event: message_delta",
             R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}})"}) +
        event({"event: message_stop", R"(data: {"type":"message_stop"})"});
    const result r = run(in, false);
    EXPECT_EQ(r.out, in);
    ASSERT_TRUE(r.usage.present);
    EXPECT_EQ(r.usage.input, 12u);
    EXPECT_EQ(r.usage.cached, 2u);
    EXPECT_EQ(r.usage.output, 15u);
    EXPECT_EQ(r.usage.total_tokens(), 27u);
}

// Gemini streams carry usageMetadata in their data events; the last one is the whole count.
TEST(SseUsage, GeminiUsageMetadataIsRead) {
    const std::string in =
        data_event(R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],)"
                   R"("usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}})",
                   "\r\n") +
        data_event(
            R"({"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],)"
            R"("usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10}})",
            "\r\n");
    const result r = run(in, false);
    ASSERT_TRUE(r.usage.present);
    EXPECT_EQ(r.usage.input, 4u);
    EXPECT_EQ(r.usage.output, 6u);
    EXPECT_EQ(r.usage.total_tokens(), 10u);
}

TEST(SseUsage, StrippingRemovesExactlyTheUsageChunk) {
    const result r = run(chat_stream("\n"), true);
    EXPECT_EQ(r.out, chat_stream("\n", false));
    EXPECT_EQ(r.usage.total_tokens(), 14u);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.stripped, 1u);
}

TEST(SseUsage, NotStrippingForwardsEachPieceAtOnce) {
    const std::string in = chat_stream("\n");
    sse_usage_scanner sc(false);
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        sc.feed(std::string_view(in).substr(i, 1), out);
        ASSERT_EQ(out.size(), i + 1);  // nothing is held back, not even a partial event
    }
    sc.finish(out);
    EXPECT_EQ(out, in);
    EXPECT_EQ(sc.usage().total, 14u);
}

TEST(SseUsage, ByteAtATimeAndCrlfGiveTheSameResult) {
    for (std::string_view eol : {std::string_view("\n"), std::string_view("\r\n")}) {
        const std::string in = chat_stream(eol);
        const std::string stripped = chat_stream(eol, false);
        for (bool strip : {false, true}) {
            for (std::size_t piece : {0, 1, 2, 3, 5, 7, 64}) {
                SCOPED_TRACE(testing::Message()
                             << "eol=" << eol.size() << " strip=" << strip << " piece=" << piece);
                const result r = run(in, strip, piece);
                EXPECT_EQ(r.out, strip ? stripped : in);
                expect_same_usage(r.usage, run(chat_stream("\n"), false).usage);
                EXPECT_EQ(r.usage.input, 5u);
                EXPECT_EQ(r.usage.output, 9u);
                EXPECT_EQ(r.usage.total, 14u);
                EXPECT_TRUE(r.done);
                EXPECT_EQ(r.events, 5u);
                EXPECT_EQ(r.stripped, strip ? 1u : 0u);
            }
        }
    }
}

TEST(SseUsage, RandomSplitsGiveTheSameResult) {
    std::mt19937 rng(12345);
    for (std::string_view eol : {std::string_view("\n"), std::string_view("\r\n")}) {
        const std::string in = chat_stream(eol);
        const std::string stripped = chat_stream(eol, false);
        std::uniform_int_distribution<std::size_t> pos(0, in.size());
        for (int iter = 0; iter < 300; ++iter) {
            std::vector<std::size_t> cuts(1 + iter % 6);
            for (auto& c : cuts)
                c = pos(rng);
            std::sort(cuts.begin(), cuts.end());
            const bool strip = iter % 2 == 1;
            const result r = run_cuts(in, strip, cuts);
            ASSERT_EQ(r.out, strip ? stripped : in) << "iter " << iter;
            ASSERT_EQ(r.usage.total, 14u) << "iter " << iter;
            ASSERT_EQ(r.done, true) << "iter " << iter;
        }
    }
}

TEST(SseUsage, CrlfBoundarySplitBetweenCrAndLf) {
    sse_usage_scanner sc(true);
    std::string out;
    const std::string first = data_event(R"({"choices":[{"index":0}]})", "\r\n");
    const std::string usage = data_event(usage_chunk, "\r\n");
    sc.feed(first.substr(0, first.size() - 1), out);  // "...\r\n\r"
    EXPECT_EQ(out, "");                               // not yet known to be complete
    sc.feed(first.substr(first.size() - 1) + usage.substr(0, usage.size() - 3), out);
    EXPECT_EQ(out, first);
    sc.feed(usage.substr(usage.size() - 3, 2), out);  // "\n\r"
    sc.feed(usage.substr(usage.size() - 1), out);     // "\n"
    EXPECT_EQ(out, first);
    EXPECT_EQ(sc.stripped(), 1u);
    EXPECT_EQ(sc.usage().total, 14u);
    EXPECT_EQ(sc.buffered_bytes(), 0u);
}

TEST(SseUsage, UsageChunkWithChoicesIsKeptButRead) {
    const std::string in =
        data_event(role_chunk) +
        data_event(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],)"
                   R"("usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}})") +
        data_event("[DONE]");
    const result r = run(in, true);
    EXPECT_EQ(r.out, in);
    EXPECT_EQ(r.stripped, 0u);
    EXPECT_EQ(r.usage.total, 5u);
}

TEST(SseUsage, OnlyTheUsageChunkIsStripped) {
    // Empty choices without usage, and usage:null with empty choices, are not usage chunks.
    const std::string in =
        data_event(R"({"choices":[]})") + data_event(R"({"choices":[],"usage":null})") +
        data_event(R"({"choices":[],"usage":{"total_tokens":3}})") + data_event("[DONE]");
    const result r = run(in, true);
    EXPECT_EQ(r.out, data_event(R"({"choices":[]})") +
                         data_event(R"({"choices":[],"usage":null})") + data_event("[DONE]"));
    EXPECT_EQ(r.usage.total, 3u);
}

TEST(SseUsage, UsageChunkCarryingDoneIsKept) {
    const std::string in = event({"data: " + std::string(usage_chunk), "data: [DONE]"});
    const result r = run(in, true);
    EXPECT_EQ(r.out, in);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.usage.total, 14u);
}

constexpr std::string_view completed_json =
    R"({"type":"response.completed","response":{"id":"r","usage":{"input_tokens":7,)"
    R"("output_tokens":3,"total_tokens":10,"input_tokens_details":{"cached_tokens":2},)"
    R"("output_tokens_details":{"reasoning_tokens":1}}}})";

std::string responses_stream(std::string_view eol) {
    return event({"event: response.created",
                  R"(data: {"type":"response.created","response":{"id":"r","usage":null}})"},
                 eol) +
           event({"event: response.output_text.delta",
                  R"(data: {"type":"response.output_text.delta","delta":"Hi"})"},
                 eol) +
           event({"event: response.completed", "data: " + std::string(completed_json)}, eol);
}

TEST(SseUsage, ResponsesApiCompletedUsage) {
    for (std::string_view eol : {std::string_view("\n"), std::string_view("\r\n")}) {
        const std::string in = responses_stream(eol);
        for (bool strip : {false, true}) {
            for (std::size_t piece : {0, 1}) {
                const result r = run(in, strip, piece);
                EXPECT_EQ(r.out, in);  // not a chat usage chunk: never stripped
                ASSERT_TRUE(r.usage.present);
                EXPECT_EQ(r.usage.input, 7u);
                EXPECT_EQ(r.usage.output, 3u);
                EXPECT_EQ(r.usage.total, 10u);
                EXPECT_EQ(r.usage.cached, 2u);
                EXPECT_EQ(r.usage.reasoning, 1u);
                EXPECT_FALSE(r.done);
                EXPECT_EQ(r.events, 3u);
            }
        }
    }
}

TEST(SseUsage, ResponsesApiWithoutCompletedHasNoUsage) {
    const std::string in = responses_stream("\n");
    const result r = run(in.substr(0, in.find("event: response.completed")), false);
    EXPECT_FALSE(r.usage.present);
}

TEST(SseUsage, MultiLineDataIsJoinedWithNewline) {
    result r = run(event({R"(data: {"a":)", "data: 1,", "data:", R"(data: "usage":)",
                          R"(data:{"total_tokens":3}})"}),
                   false);
    EXPECT_EQ(r.usage.total, 3u);
    EXPECT_EQ(r.events, 1u);
    // Joined without the newline this would read 12; with it, "1\n2" is not a number.
    r = run(event({R"(data: {"usage":{"total_tokens":1)", "data: 2}}"}), false);
    EXPECT_FALSE(r.usage.present);
    // A multi-line usage chunk is still a usage chunk.
    r = run(event({R"(data: {"choices":[],)", R"(data: "usage":{"total_tokens":4}})"}), true);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.usage.total, 4u);
}

TEST(SseUsage, AnEscapedUsageNameIsStillRead) {
    // Events without the word "usage" skip the JSON scan, unless an escape could spell it.
    const result r = run(data_event(R"({"choices":[],"us\u0061ge":{"total_tokens":5}})"), true);
    EXPECT_TRUE(r.usage.present);
    EXPECT_EQ(r.usage.total, 5u);
    EXPECT_EQ(r.stripped, 1u);
    EXPECT_FALSE(
        run(data_event(R"({"choices":[{"delta":{"content":"x"}}]})"), false).usage.present);
}

TEST(SseUsage, OtherFieldsAndCommentsAreIgnored) {
    const std::string in = event({": keep-alive", "event: message", "id: 7", "retry: 1000",
                                  "data:{\"usage\":", "dataX: nope", " data: nope",
                                  R"(data:   {"total_tokens":6}}   )"});
    const result r = run(in, false);
    EXPECT_EQ(r.usage.total, 6u);
    EXPECT_EQ(r.out, in);
    EXPECT_EQ(run(event({": only a comment"}), false).events, 0u);
}

// Each count keeps its last report (Anthropic splits them over two events); a null usage
// changes nothing.
TEST(SseUsage, EachCountKeepsItsLastReport) {
    const std::string in = data_event(R"({"choices":[],"usage":{"prompt_tokens":1,)"
                                      R"("completion_tokens":2,"total_tokens":3,)"
                                      R"("prompt_tokens_details":{"cached_tokens":1}}})") +
                           data_event(R"({"choices":[],"usage":{"total_tokens":30}})") +
                           data_event(R"({"choices":[],"usage":null})");
    const result r = run(in, false);
    EXPECT_EQ(r.usage.total, 30u);
    EXPECT_EQ(r.usage.input, 1u);  // merged, not replaced
    EXPECT_EQ(r.usage.cached, 1u);
}

TEST(SseUsage, GarbageIsIgnored) {
    std::string garbage = data_event("hello world") + data_event("{not json") +
                          data_event(R"({"usage":{"total_tokens":9})") +  // truncated
                          data_event("\xff\xfe{\"usage\":{}}") + data_event("[1,2,3]") +
                          data_event("{\"usage\":{\"total_tokens\":99},\"x\":\"\xff\"}") +
                          std::string("\n\n\r\n\r\n\0\0data\n\n\n\r\r\n\n", 19) + "data: [DONE";
    for (bool strip : {false, true}) {
        for (std::size_t piece : {0, 1}) {
            const result r = run(garbage, strip, piece);
            EXPECT_EQ(r.out, garbage);
            EXPECT_FALSE(r.usage.present);
            EXPECT_FALSE(r.done);
            EXPECT_EQ(r.stripped, 0u);
        }
    }
    // Garbage before a real usage event does not hide it.
    const result r = run(garbage + "\n\n" + data_event(usage_chunk), false);
    EXPECT_EQ(r.usage.total, 14u);
}

TEST(SseUsage, MemoryIsBoundedByOneHugeEvent) {
    constexpr std::size_t total = 10 * 1024 * 1024;
    for (std::size_t piece : {std::size_t{64 * 1024}, std::size_t{1000}, total}) {
        SCOPED_TRACE(piece);
        sse_usage_scanner sc(false);
        std::string out;
        std::string fed = "data: {\"usage\":{\"total_tokens\":1},\"pad\":\"";
        sc.feed(fed, out);
        const std::string chunk(piece, 'x');
        while (fed.size() < total) {
            sc.feed(chunk, out);
            fed += chunk;
            ASSERT_LE(sc.buffered_bytes(), sse_usage_scanner::max_buffer);
            ASSERT_LE(sc.buffer_capacity(), sse_usage_scanner::max_buffer);
        }
        EXPECT_GE(sc.buffered_bytes(), sse_usage_scanner::keep_on_overflow);
        // The oversized event itself cannot be read (its head is gone) ...
        sc.feed("\"}\n\n", out);
        EXPECT_FALSE(sc.usage().present);
        // ... but the stream resynchronises at its end.
        const std::string after = data_event(usage_chunk) + data_event("[DONE]");
        sc.feed(after, out);
        sc.finish(out);
        EXPECT_EQ(sc.usage().total, 14u);
        EXPECT_TRUE(sc.saw_done());
        EXPECT_EQ(out.size(), fed.size() + 4 + after.size());
        EXPECT_LE(sc.buffer_capacity(), 64u * 1024);  // given back after the large event
    }
}

TEST(SseUsage, TheTailOfAnOversizedEventIsNotScanned) {
    // Its kept tail holds a data line that reads as a usage chunk on its own; the whole event
    // does not ("xxx...\n{...}" is not JSON), and its head is already gone.
    const std::string in = "data: " + std::string(sse_usage_scanner::max_buffer, 'x') +
                           "\ndata: " + std::string(usage_chunk) + "\n\n" + data_event("[DONE]");
    for (bool strip : {false, true}) {
        for (std::size_t piece : {0, 4096}) {
            const result r = run(in, strip, piece);
            EXPECT_EQ(r.out, in);
            EXPECT_FALSE(r.usage.present);
            EXPECT_EQ(r.stripped, 0u);
            EXPECT_TRUE(r.done);
        }
    }
}

TEST(SseUsage, OversizedEventIsForwardedWhenStripping) {
    sse_usage_scanner sc(true);
    std::string out;
    const std::string head = R"(data: {"choices":[],"usage":{"total_tokens":1},"pad":")";
    const std::string pad(sse_usage_scanner::max_buffer, 'x');
    sc.feed(head, out);
    sc.feed(pad.substr(0, 1000), out);
    EXPECT_EQ(out, "");  // held: it might still be a usage chunk
    sc.feed(pad.substr(1000), out);
    // Past the cap: everything so far went out, and the rest follows as it arrives.
    EXPECT_EQ(out, head + pad);
    EXPECT_LE(sc.buffered_bytes(), sse_usage_scanner::max_buffer);
    sc.feed("yy", out);
    EXPECT_EQ(out, head + pad + "yy");
    sc.feed("\"}\n\n", out);
    EXPECT_EQ(out, head + pad + "yy\"}\n\n");
    EXPECT_EQ(sc.stripped(), 0u);  // too late to remove it
    sc.feed(data_event(usage_chunk), out);
    sc.finish(out);
    EXPECT_EQ(out, head + pad + "yy\"}\n\n");
    EXPECT_EQ(sc.stripped(), 1u);
    EXPECT_EQ(sc.usage().total, 14u);
}

TEST(SseUsage, LargeUsageChunkUnderTheCapIsStripped) {
    const std::string big = R"({"choices":[],"pad":")" + std::string(300 * 1024, 'p') +
                            R"(","usage":{"total_tokens":21}})";
    const std::string in = data_event(role_chunk) + data_event(big) + data_event("[DONE]");
    for (std::size_t piece : {0, 4096}) {
        const result r = run(in, true, piece);
        EXPECT_EQ(r.out, data_event(role_chunk) + data_event("[DONE]"));
        EXPECT_EQ(r.usage.total, 21u);
    }
}

TEST(SseUsage, StrippingHoldsAPartialEventUntilItCompletes) {
    sse_usage_scanner sc(true);
    std::string out;
    const std::string first = data_event(role_chunk);
    const std::string usage = data_event(usage_chunk);
    sc.feed(first + usage.substr(0, 20), out);
    EXPECT_EQ(out, first);
    EXPECT_EQ(sc.buffered_bytes(), 20u);
    sc.feed(usage.substr(20), out);
    EXPECT_EQ(out, first);  // completed as a usage chunk: removed
    EXPECT_EQ(sc.usage().total, 14u);
    const std::string stop = data_event(stop_chunk);
    sc.feed(stop.substr(0, 30), out);
    EXPECT_EQ(out, first);
    sc.feed(stop.substr(30), out);
    EXPECT_EQ(out, first + stop);  // completed as an ordinary event: forwarded whole
    EXPECT_EQ(sc.buffered_bytes(), 0u);
}

TEST(SseUsage, FinishFlushesAHeldPartialEvent) {
    sse_usage_scanner sc(true);
    std::string out;
    const std::string first = data_event(role_chunk);
    sc.feed(first + "data: {\"choices\":[],\"usage\":{\"total_tokens\":8}}\n", out);
    EXPECT_EQ(out, first);
    sc.finish(out);
    EXPECT_EQ(out, first + "data: {\"choices\":[],\"usage\":{\"total_tokens\":8}}\n");
    EXPECT_EQ(sc.usage().total, 8u);  // the unterminated final event is still scanned
    EXPECT_EQ(sc.buffered_bytes(), 0u);
}

TEST(SseUsage, FinishScansACompleteUnterminatedEventOnly) {
    result r = run(R"(data: {"usage":{"total_tokens":5}})", false);
    EXPECT_EQ(r.usage.total, 5u);
    EXPECT_EQ(r.events, 1u);
    r = run(R"(data: {"usage":{"total_tokens":5})", false);  // cut off mid-JSON
    EXPECT_FALSE(r.usage.present);
    EXPECT_EQ(r.out, R"(data: {"usage":{"total_tokens":5})");
}

TEST(SseUsage, EmptyInput) {
    sse_usage_scanner sc(true);
    std::string out;
    sc.feed("", out);
    sc.finish(out);
    EXPECT_EQ(out, "");
    EXPECT_FALSE(sc.usage().present);
    EXPECT_EQ(sc.events(), 0u);
}

}  // namespace
}  // namespace ditto::core

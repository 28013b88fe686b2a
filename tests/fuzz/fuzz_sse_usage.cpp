// The SSE usage reader (core/sse_usage, core/json_scan) on an upstream stream cut into pieces
// the fuzzer chooses. The relay sees whatever TCP hands it, so the result must not depend on
// where the pieces end.
//
// Input: byte 0 = flags (bit 0: strip the usage chunk; bits 1-4: how many piece lengths
// follow; bit 5: also feed byte by byte; bit 6: insert an event larger than the scanner's
// buffer), then that many piece lengths (one byte each), then the stream.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/core/sse_usage.hpp"
#include "fuzz_check.hpp"
#include "shared/sse_feed.hpp"

namespace {

using ditto::core::sse_usage_scanner;
using ditto::core::usage_fields;

using run_result = ditto::test::sse_feed_result;

void check_bounds(const sse_usage_scanner& sc) {
    FUZZ_CHECK(sc.buffered_bytes() <= sse_usage_scanner::max_buffer);
    FUZZ_CHECK(sc.buffer_capacity() <= sse_usage_scanner::max_buffer);
}

run_result run(std::string_view stream, bool strip, const std::vector<std::size_t>& pieces) {
    return ditto::test::feed_in_pieces(stream, strip, pieces,
                                       [](const sse_usage_scanner& sc, bool finished) {
                                           check_bounds(sc);
                                           if (finished)
                                               FUZZ_CHECK(sc.buffered_bytes() == 0);
                                       });
}

bool same_usage(const usage_fields& a, const usage_fields& b) {
    return a.present == b.present && a.input == b.input && a.output == b.output &&
           a.total == b.total && a.reasoning == b.reasoning && a.cached == b.cached &&
           a.creation == b.creation;
}

void check_same(const run_result& a, const run_result& b) {
    FUZZ_CHECK(a.out == b.out);
    FUZZ_CHECK(same_usage(a.usage, b.usage));
    FUZZ_CHECK(a.done == b.done);
    FUZZ_CHECK(a.events == b.events);
    FUZZ_CHECK(a.stripped == b.stripped);
}

// The events of `stream` with their terminators (the earliest "\n\n" or "\r\n\r\n"), then the
// unterminated tail: the units the stripping may drop whole, and nothing else.
std::vector<std::string_view> segments(std::string_view stream) {
    std::vector<std::string_view> out;
    while (!stream.empty()) {
        const std::size_t lf = stream.find("\n\n");
        const std::size_t crlf = stream.find("\r\n\r\n");
        std::size_t end = stream.size();
        if (lf != std::string_view::npos && (crlf == std::string_view::npos || lf < crlf))
            end = lf + 2;
        else if (crlf != std::string_view::npos)
            end = crlf + 4;
        out.push_back(stream.substr(0, end));
        stream.remove_prefix(end);
    }
    return out;
}

// The stripped output is the stream minus `stripped` whole terminated events, in order.
void check_only_whole_events_removed(std::string_view stream, std::string_view out,
                                     std::uint64_t stripped) {
    std::uint64_t removed = 0;
    for (std::string_view seg : segments(stream)) {
        if (out.starts_with(seg)) {
            out.remove_prefix(seg.size());
        } else {
            // Only a terminated event can go.
            FUZZ_CHECK(seg.ends_with("\n\n") || seg.ends_with("\r\n\r\n"));
            ++removed;
        }
    }
    FUZZ_CHECK(out.empty());
    FUZZ_CHECK(removed == stripped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::uint8_t flags = data[0];
    const bool strip = (flags & 1) != 0;
    const std::size_t n_pieces = (flags >> 1) & 0x0F;
    const bool bytewise = (flags & 0x20) != 0;
    const bool oversized = (flags & 0x40) != 0;
    std::size_t pos = 1;
    std::vector<std::size_t> pieces;
    for (std::size_t i = 0; i < n_pieces && pos < size; ++i)
        pieces.push_back(data[pos++]);
    std::string stream(reinterpret_cast<const char*>(data) + pos, size - pos);
    if (oversized) {
        // A data line longer than the buffer, where the first piece length points: the event
        // it lands in overflows and must be relayed untouched.
        const std::size_t at = pieces.empty() ? 0 : std::min(pieces[0] * 16, stream.size());
        stream.insert(at, sse_usage_scanner::max_buffer + 4096, 'x');
    }

    const run_result whole = run(stream, strip, {});
    const run_result cut = run(stream, strip, pieces);
    check_same(whole, cut);
    if (bytewise && !oversized) {
        const std::vector<std::size_t> ones(stream.size(), 1);
        check_same(whole, run(stream, strip, ones));
    }
    if (!strip) {
        // Without stripping the relay forwards every byte at once, whatever the content.
        FUZZ_CHECK(whole.out == stream);
        FUZZ_CHECK(whole.stripped == 0);
    } else {
        check_only_whole_events_removed(stream, whole.out, whole.stripped);
    }
    if (whole.usage.present) {
        // A usage that was read came from a JSON object that scanned as valid.
        FUZZ_CHECK(whole.events > 0);
    }
    return 0;
}

#pragma once

// Feeding an SSE stream to the usage scanner in pieces, shared by the unit tests and the
// fuzz harness (tests/fuzz): both check that where the pieces end changes nothing.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/core/sse_usage.hpp"

namespace ditto::test {

/// What the scanner forwarded and read from one stream.
struct sse_feed_result {
    std::string out;
    core::usage_fields usage;
    bool done = false;
    std::uint64_t events = 0;
    std::uint64_t stripped = 0;
};

/// Feeds `stream` as pieces of `lengths` bytes (clamped to what is left), then the rest, then
/// finishes. `after(scanner, finished)` runs after each feed and after finish (bounds checks).
template <class After>
sse_feed_result feed_in_pieces(std::string_view stream, bool strip,
                               const std::vector<std::size_t>& lengths, After after) {
    core::sse_usage_scanner sc(strip);
    sse_feed_result r;
    for (std::size_t len : lengths) {
        len = std::min(len, stream.size());
        sc.feed(stream.substr(0, len), r.out);
        stream.remove_prefix(len);
        after(sc, false);
    }
    sc.feed(stream, r.out);
    after(sc, false);
    sc.finish(r.out);
    after(sc, true);
    r.usage = sc.usage();
    r.done = sc.saw_done();
    r.events = sc.events();
    r.stripped = sc.stripped();
    return r;
}

inline sse_feed_result feed_in_pieces(std::string_view stream, bool strip,
                                      const std::vector<std::size_t>& lengths) {
    return feed_in_pieces(stream, strip, lengths, [](const core::sse_usage_scanner&, bool) {});
}

}  // namespace ditto::test

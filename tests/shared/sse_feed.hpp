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
/// Without stripping the pieces go through observe(), as the relay passes them (the client
/// gets each piece itself).
template <class After>
sse_feed_result feed_in_pieces(std::string_view stream, bool strip,
                               const std::vector<std::size_t>& lengths, After after) {
    core::sse_usage_scanner sc(strip);
    sse_feed_result r;
    const auto give = [&](std::string_view piece) {
        if (strip) {
            sc.feed(piece, r.out);
        } else {
            r.out.append(piece);
            sc.observe(piece);
        }
        after(sc, false);
    };
    for (std::size_t len : lengths) {
        len = std::min(len, stream.size());
        give(stream.substr(0, len));
        stream.remove_prefix(len);
    }
    give(stream);
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

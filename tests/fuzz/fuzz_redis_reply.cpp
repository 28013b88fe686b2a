// What the Redis store does with the bytes a Redis connection delivers: hiredis' RESP reader
// and our conversion into owned replies (store/redis/redis_reply), then the accessors the store
// reads them with. Redis is trusted, but a wrong --redis URL, a proxy in between or a
// half-closed connection can hand over anything, and the gateway must not fall over.
//
// Input: byte 0 = how many bytes go into each feed (0: all at once), then the stream. The
// replies must not depend on how the stream was cut.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ditto/store/redis/redis_reply.hpp"
#include "fuzz_check.hpp"

namespace {

using ditto::store::redis::redis_reply;
using ditto::store::redis::resp_reader;

struct decoded {
    std::vector<redis_reply> replies;
    bool bad = false;
};

decoded decode(std::string_view stream, std::size_t piece) {
    decoded d;
    resp_reader reader;
    if (piece == 0)
        piece = stream.size();
    // As the connection's read loop does: feed what arrived, then take every complete reply.
    while (!stream.empty() && !d.bad) {
        const auto n = std::min(piece, stream.size());
        if (!reader.feed(stream.data(), n)) {
            d.bad = true;
            break;
        }
        stream.remove_prefix(n);
        for (;;) {
            redis_reply r;
            const auto p = reader.next(r);
            if (p == resp_reader::pull::bad) {
                d.bad = true;
                break;
            }
            if (p == resp_reader::pull::need_more)
                break;
            d.replies.push_back(std::move(r));
        }
    }
    return d;
}

bool same(const redis_reply& a, const redis_reply& b) {
    if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
        a.elements.size() != b.elements.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.elements.size(); ++i) {
        if (!same(a.elements[i], b.elements[i]))
            return false;
    }
    return true;
}

// Everything the store reads from a reply (redis_store.cpp, redis_cache_store.cpp).
void read_like_the_store(const redis_reply& r, std::size_t depth) {
    FUZZ_CHECK(depth < 16);  // hiredis nests at most 7 deep
    (void)r.is_ok();
    (void)r.as_int();
    if (auto s = r.as_string())
        FUZZ_CHECK(s->size() == r.str.size());
    for (std::size_t i = 0; i < r.elements.size() + 2; ++i) {
        (void)ditto::store::redis::element_int(r, i);
        (void)ditto::store::redis::element_u64(r, i);
    }
    for (const auto& e : r.elements)
        read_like_the_store(e, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::size_t piece = data[0];
    const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
    const decoded whole = decode(stream, 0);
    const decoded cut = decode(stream, piece);
    // The same replies whichever way the bytes arrived; an error may only come earlier or later
    // in the stream, never instead of a reply that was complete before it.
    FUZZ_CHECK(whole.bad == cut.bad);
    FUZZ_CHECK(whole.replies.size() == cut.replies.size());
    for (std::size_t i = 0; i < whole.replies.size(); ++i) {
        FUZZ_CHECK(same(whole.replies[i], cut.replies[i]));
        read_like_the_store(whole.replies[i], 0);
    }
    return 0;
}

#include "ditto/trace/trace_context.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "ditto/core/hash.hpp"

namespace ditto::trace {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;  // upper case is invalid (the spec's lowercase hex only)
}

bool read_hex(std::string_view s, std::uint64_t& out) {
    out = 0;
    for (char c : s) {
        const int v = hex_value(c);
        if (v < 0)
            return false;
        out = (out << 4) | static_cast<std::uint64_t>(v);
    }
    return true;
}

// splitmix64: one multiply-xorshift per id; seeded per thread from std::random_device.
struct generator {
    std::uint64_t state;
    generator() {
        std::random_device rd;
        state = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

generator& thread_generator() {
    thread_local generator g;
    return g;
}

}  // namespace

std::optional<traceparent> parse_traceparent(std::string_view h) {
    // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 characters.
    while (!h.empty() && (h.back() == ' ' || h.back() == '\t'))
        h.remove_suffix(1);
    while (!h.empty() && (h.front() == ' ' || h.front() == '\t'))
        h.remove_prefix(1);
    if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-')
        return std::nullopt;
    std::uint64_t version = 0;
    if (!read_hex(h.substr(0, 2), version) || version == 0xff)
        return std::nullopt;
    // Version 00 is exactly 55 characters; a later version may add fields after a '-'.
    if (version == 0 ? h.size() != 55 : (h.size() > 55 && h[55] != '-'))
        return std::nullopt;
    traceparent out;
    std::uint64_t flags = 0;
    if (!read_hex(h.substr(3, 16), out.trace.hi) || !read_hex(h.substr(19, 16), out.trace.lo) ||
        !read_hex(h.substr(36, 16), out.parent) || !read_hex(h.substr(53, 2), flags)) {
        return std::nullopt;
    }
    if (!out.trace.valid() || out.parent == 0)
        return std::nullopt;
    out.sampled = (flags & 1) != 0;
    return out;
}

void hex16(std::uint64_t v, char* out) {
    static constexpr char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
        out[i] = digits[v & 0xf];
        v >>= 4;
    }
}

std::string hex(trace_id t) {
    std::string s(32, '0');
    hex16(t.hi, s.data());
    hex16(t.lo, s.data() + 16);
    return s;
}

std::string hex(std::uint64_t v) {
    std::string s(16, '0');
    hex16(v, s.data());
    return s;
}

void format_traceparent(char* out, trace_id trace, std::uint64_t span, bool sampled) {
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    hex16(trace.hi, out + 3);
    hex16(trace.lo, out + 19);
    out[35] = '-';
    hex16(span, out + 36);
    out[52] = '-';
    out[53] = '0';
    out[54] = sampled ? '1' : '0';
}

std::string format_traceparent(trace_id trace, std::uint64_t span, bool sampled) {
    std::string s(traceparent_size, '0');
    format_traceparent(s.data(), trace, span, sampled);
    return s;
}

std::uint64_t random_span_id() {
    std::uint64_t v = 0;
    while (v == 0)
        v = thread_generator().next();
    return v;
}

trace_id random_trace_id() {
    trace_id t;
    while (!t.valid())
        t = {thread_generator().next(), thread_generator().next()};
    return t;
}

bool sampled(trace_id t, double rate) {
    if (rate >= 1.0)
        return true;
    if (rate <= 0.0)
        return false;
    char key[7 + 32] = {'t', 'r', 'a', 'c', 'e', 's', '|'};
    hex16(t.hi, key + 7);
    hex16(t.lo, key + 23);
    const auto threshold = static_cast<std::uint64_t>(
        std::floor(rate * static_cast<double>(std::numeric_limits<std::uint64_t>::max())));
    return core::fnv1a64(std::string_view(key, sizeof key)) <= threshold;
}

}  // namespace ditto::trace

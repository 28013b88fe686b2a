#include "ditto/core/sse_usage.hpp"

#include <algorithm>
#include <cstring>

#include "ditto/core/strings.hpp"

namespace ditto::core {
namespace {

// Enough for a typical upstream read of a few chat chunks, so a stream usually allocates once.
constexpr std::size_t initial_capacity = 4 * 1024;
// A buffer grown by one large event is given back once the stream is back to small events,
// so thousands of idle streams do not each keep their high-water mark.
constexpr std::size_t slack_limit = 64 * 1024;

std::string_view span(const std::vector<char>& v, std::size_t begin, std::size_t end) noexcept {
    return {v.data() + begin, end - begin};
}

}  // namespace

sse_usage_scanner::sse_usage_scanner(bool strip_usage_chunk) noexcept : strip_(strip_usage_chunk) {}

void sse_usage_scanner::feed(std::string_view piece, std::string& out) {
    if (!strip_)
        out.append(piece);
    consume(piece, &out);
}

void sse_usage_scanner::consume(std::string_view piece, std::string* out) {
    // Nothing held: the piece's complete events are read where they are, and only the
    // unfinished tail is copied into the buffer (an upstream read usually ends at an event's
    // end, so usually nothing is). The same events, the same output, as the loop below.
    if (buf_.empty() && !truncated_ && piece.size() <= max_buffer) {
        const std::size_t held = scan_in_place(piece, out);
        append(piece.substr(held));
        give_back_slack();
        return;
    }
    // Taken in slices that fit the buffer, so even one huge piece never grows it past the cap.
    while (!piece.empty()) {
        if (buf_.size() == max_buffer)
            overflow(out);
        const std::size_t n = std::min(piece.size(), max_buffer - buf_.size());
        append(piece.substr(0, n));
        piece.remove_prefix(n);
        drain(out);
    }
    give_back_slack();
}

void sse_usage_scanner::give_back_slack() {
    if (buf_.capacity() > slack_limit && buf_.size() <= initial_capacity) {
        std::vector<char> smaller;
        smaller.reserve(initial_capacity);
        smaller.assign(buf_.begin(), buf_.end());
        buf_.swap(smaller);
    }
}

void sse_usage_scanner::finish(std::string& out) {
    if (strip_)
        forward_to(buf_.size(), &out);
    if (!truncated_ && !buf_.empty())
        scan_event(span(buf_, 0, buf_.size()));
    buf_.clear();
    scan_pos_ = 0;
    sent_ = 0;
    truncated_ = false;
}

void sse_usage_scanner::append(std::string_view bytes) {
    const std::size_t need = buf_.size() + bytes.size();
    // Growth is managed here rather than left to insert() so the capacity stops at the cap
    // instead of doubling past it.
    if (need > buf_.capacity())
        buf_.reserve(std::min(max_buffer, std::max({need, 2 * buf_.capacity(), initial_capacity})));
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

// consume()'s fast path: handles every complete event of `piece` in place (with stripping,
// appends to `out` all but the removed ones) and returns where the unfinished tail begins.
std::size_t sse_usage_scanner::scan_in_place(std::string_view piece, std::string* out) {
    std::size_t start = 0;  // first byte of the current event
    std::size_t sent = 0;   // stripping: piece[0, sent) is in `out`
    std::size_t i = 0;
    const char* p = piece.data();
    const std::size_t n = piece.size();
    while (i < n) {
        const void* hit = std::memchr(p + i, '\n', n - i);
        if (hit == nullptr)
            break;
        i = static_cast<std::size_t>(static_cast<const char*>(hit) - p);
        if (i + 1 == n)
            break;
        std::size_t at = 0, len = 0;
        if (p[i + 1] == '\n') {
            at = i;
            len = 2;
        } else if (i > 0 && p[i - 1] == '\r' && p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n') {
            at = i - 1;
            len = 4;
        } else {
            ++i;
            continue;
        }
        const std::size_t end = at + len;
        if (scan_event(piece.substr(start, at - start)) && strip_) {
            out->append(p + sent, start - sent);
            sent = end;
            ++stripped_;
        }
        start = end;
        i = end;
    }
    if (strip_)
        out->append(p + sent, start - sent);
    return start;
}

// Splits off and handles every complete event in buf_, forwards what is settled, and drops the
// consumed bytes.
void sse_usage_scanner::drain(std::string* out) {
    std::size_t start = 0;  // first byte of the current event
    std::size_t at = 0;
    std::size_t len = 0;
    while (next_boundary(at, len)) {
        const std::size_t end = at + len;
        if (truncated_) {
            // The tail of an event that outgrew the buffer: its head is gone, so it can be
            // neither scanned nor removed (its bytes have already been forwarded).
            truncated_ = false;
        } else if (scan_event(span(buf_, start, at)) && strip_) {
            forward_to(start, out);
            sent_ = end;
            ++stripped_;
        }
        start = end;
    }
    if (strip_)
        forward_to(truncated_ ? buf_.size() : start, out);
    compact(start);
}

// The earliest "\n\n" or "\r\n\r\n" at or after scan_pos_. A '\n' too close to the end to
// tell is left for the next call, which resumes there; nothing earlier is searched again.
bool sse_usage_scanner::next_boundary(std::size_t& at, std::size_t& len) noexcept {
    const char* p = buf_.data();
    const std::size_t n = buf_.size();
    std::size_t i = scan_pos_;
    while (i < n) {
        const void* hit = std::memchr(p + i, '\n', n - i);
        if (hit == nullptr) {
            i = n;
            break;
        }
        i = static_cast<std::size_t>(static_cast<const char*>(hit) - p);
        if (i + 1 == n)
            break;
        if (p[i + 1] == '\n') {
            at = i;
            len = 2;
            scan_pos_ = i + 2;
            return true;
        }
        // The byte before a '\n' is always kept (consumed bytes end with a '\n'; an overflow
        // keeps far more than the unsearched tail), so p[i - 1] is the real predecessor.
        if (i > 0 && p[i - 1] == '\r' && p[i + 1] == '\r') {
            if (i + 2 == n)
                break;
            if (p[i + 2] == '\n') {
                at = i - 1;
                len = 4;
                scan_pos_ = i + 3;
                return true;
            }
        }
        ++i;
    }
    scan_pos_ = i;
    return false;
}

// Reads one event (without its terminator); true when it is the extra usage chunk: non-null
// top-level `usage` and `"choices": []`.
bool sse_usage_scanner::scan_event(std::string_view event) {
    std::string_view first;  // a lone data line is read in place, without a copy
    std::size_t lines = 0;
    bool done = false;
    while (!event.empty()) {
        const std::size_t nl = event.find('\n');
        const std::string_view line = event.substr(0, nl);
        event.remove_prefix(nl == std::string_view::npos ? event.size() : nl + 1);
        if (!line.starts_with("data:"))
            continue;  // event:, id:, retry:, ":" comments
        const std::string_view value = trim(line.substr(5));
        if (value.empty())
            continue;
        if (value == "[DONE]") {
            done = true;
            continue;
        }
        if (lines == 1)
            joined_.assign(first);
        if (lines == 0) {
            first = value;
        } else {
            joined_ += '\n';
            joined_ += value;
        }
        ++lines;
    }
    if (lines > 0 || done)
        ++events_;
    if (done)
        saw_done_ = true;
    const std::string_view data = lines > 1 ? std::string_view(joined_) : first;
    // Only an object can carry usage, so text and garbage skip the JSON scan; so does an
    // object without the word, unless an escape could spell it (`us\u0061ge`): most events of
    // a stream are content deltas, and this keeps the scan to the one that carries usage.
    if (data.empty() || data.front() != '{')
        return false;
    if (data.find("usage") == std::string_view::npos && data.find('\\') == std::string_view::npos)
        return false;
    stream_event_fields fields;
    const bool ok = scan_stream_event_json(data, fields);
    if (lines > 1 && joined_.capacity() > slack_limit)
        std::string().swap(joined_);
    if (!ok || !fields.usage.present)
        return false;
    // Counts a later event leaves out keep their earlier value: Anthropic's message_start
    // has the input, its message_delta the final output (docs/dialects.md). OpenAI and
    // Responses streams report everything in one event, so for them this is "last wins".
    const auto& u = fields.usage;
    usage_.present = true;
    for (auto [dst, src] :
         {std::pair{&usage_.input, &u.input}, std::pair{&usage_.output, &u.output},
          std::pair{&usage_.total, &u.total}, std::pair{&usage_.reasoning, &u.reasoning},
          std::pair{&usage_.cached, &u.cached}, std::pair{&usage_.creation, &u.creation}}) {
        if (*src)
            *dst = *src;
    }
    // An event that also carried [DONE] is kept: removing it would lose the end marker.
    return !done && !fields.usage_from_response && fields.choices_empty;
}

void sse_usage_scanner::forward_to(std::size_t end, std::string* out) {
    if (end <= sent_)
        return;
    out->append(buf_.data() + sent_, end - sent_);
    sent_ = end;
}

void sse_usage_scanner::compact(std::size_t consumed) {
    if (consumed == 0)
        return;
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(consumed));
    scan_pos_ -= consumed;
    sent_ = sent_ > consumed ? sent_ - consumed : 0;
}

// buf_ is full and holds part of a single event (drain() split off every complete one).
void sse_usage_scanner::overflow(std::string* out) {
    // Too large to hold back any longer: the client gets it as it stands, unremoved.
    if (strip_)
        forward_to(buf_.size(), out);
    const std::size_t drop = buf_.size() - keep_on_overflow;
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(drop));
    scan_pos_ = scan_pos_ > drop ? scan_pos_ - drop : 0;
    sent_ = strip_ ? buf_.size() : 0;
    truncated_ = true;
}

}  // namespace ditto::core

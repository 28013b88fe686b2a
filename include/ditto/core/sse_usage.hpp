#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/core/json_scan.hpp"

namespace ditto::core {

/// Reads the token usage of an upstream Server-Sent-Events stream while it is relayed piece by
/// piece, and can remove the extra usage chunk the gateway asked for on the client's behalf
/// (docs/governance.md, "Usage accounting").
///
/// Events end at the earliest "\n\n" or "\r\n\r\n". An event's `data:` lines (trimmed, empty
/// ones and `[DONE]` skipped) are joined with "\n" and scanned as JSON; each non-null usage
/// seen (top-level `usage` or Gemini `usageMetadata`, else Responses API `response.usage` or
/// Anthropic `message.usage`) overwrites the counts it has, so the last report of each count
/// wins. At most `max_buffer`
/// bytes are held whatever the input: when one event outgrows it, only its last
/// `keep_on_overflow` bytes are kept, and that event is neither scanned nor removed.
///
/// Not thread-safe; one instance per stream.
class sse_usage_scanner {
  public:
    static constexpr std::size_t max_buffer = 512 * 1024;
    static constexpr std::size_t keep_on_overflow = 128 * 1024;

    /// `strip_usage_chunk`: remove events whose data has a non-null top-level `usage` and
    /// `"choices": []` (the include_usage chunk the client did not ask for).
    explicit sse_usage_scanner(bool strip_usage_chunk) noexcept;

    /// Consumes the next bytes of the upstream stream and appends to `out` what the client
    /// gets now. Without stripping that is `piece` itself, at once. With stripping, complete
    /// events are appended verbatim except a removed usage chunk (terminator included), and an
    /// incomplete trailing event is held until it completes or outgrows `max_buffer`.
    void feed(std::string_view piece, std::string& out);
    /// feed() without stripping, where what the client gets is `piece` itself: the caller
    /// passes the piece on as it is, uncopied. Only for a scanner made without stripping.
    void observe(std::string_view piece) { consume(piece, nullptr); }

    /// End of the stream: appends whatever is still held and scans a final unterminated event.
    /// The scanner can then be fed a new stream; usage() and the counters are kept.
    void finish(std::string& out);

    /// The last usage seen (`present` false until one is).
    const usage_fields& usage() const noexcept { return usage_; }
    /// A `data: [DONE]` line was seen (chat/completions streams end with one).
    bool saw_done() const noexcept { return saw_done_; }
    /// Events with at least one non-empty data line (`[DONE]` included).
    std::uint64_t events() const noexcept { return events_; }
    /// Events removed as usage chunks.
    std::uint64_t stripped() const noexcept { return stripped_; }
    /// Bytes held for scanning (never more than `max_buffer`).
    std::size_t buffered_bytes() const noexcept { return buf_.size(); }
    /// Bytes allocated for the scan buffer (never more than `max_buffer`).
    std::size_t buffer_capacity() const noexcept { return buf_.capacity(); }

  private:
    void consume(std::string_view piece, std::string* out);
    std::size_t scan_in_place(std::string_view piece, std::string* out);
    void append(std::string_view bytes);
    void drain(std::string* out);
    bool next_boundary(std::size_t& at, std::size_t& len) noexcept;
    bool scan_event(std::string_view event);
    void forward_to(std::size_t end, std::string* out);
    void compact(std::size_t consumed);
    void overflow(std::string* out);
    void give_back_slack();

    bool strip_;
    // The stream from the start of the first unfinished event (or, after an overflow, the kept
    // tail of an oversized one). A vector so its capacity can be held to `max_buffer` exactly.
    std::vector<char> buf_;
    std::size_t scan_pos_ = 0;  ///< the boundary search resumes here (nothing before it rescanned)
    std::size_t sent_ = 0;      ///< stripping: buf_[0, sent_) already went to the client
    bool truncated_ = false;    ///< the first event in buf_ lost its head to an overflow
    std::string joined_;        ///< data of a multi-line event, reused across events
    usage_fields usage_;
    bool saw_done_ = false;
    std::uint64_t events_ = 0;
    std::uint64_t stripped_ = 0;
};

}  // namespace ditto::core

#pragma once

// Redis replies as the store sees them, and the RESP decoding that produces them. No socket and
// no Asio here, so the decoding can be tested and fuzzed on bytes alone (tests/fuzz).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;  // hiredis, kept out of this header

namespace ditto::store::redis {

enum class redis_type : std::uint8_t { nil, string, status, error, integer, array };

/// A reply, owned: callers never see hiredis types.
struct redis_reply {
    redis_type type = redis_type::nil;
    std::string str;  ///< string, status and error replies
    long long integer = 0;
    std::vector<redis_reply> elements;

    bool is_nil() const { return type == redis_type::nil; }
    /// A `-ERR ...` reply: Redis refused the command; the connection is fine.
    bool is_error() const { return type == redis_type::error; }
    bool is_string() const { return type == redis_type::string; }
    bool is_status() const { return type == redis_type::status; }
    bool is_integer() const { return type == redis_type::integer; }
    bool is_array() const { return type == redis_type::array; }
    /// The `+OK` status.
    bool is_ok() const { return type == redis_type::status && str == "OK"; }
    /// An integer reply, or a string reply holding a whole decimal number (GET of a counter).
    std::optional<long long> as_int() const;
    /// A string or status reply.
    std::optional<std::string_view> as_string() const;
};

/// Element `i` of an array reply as an integer (as_int()); 0 when absent or not a number.
std::int64_t element_int(const redis_reply& r, std::size_t i);

/// Element `i` of an array reply as an unsigned count: an integer (negative → 0) or a decimal
/// string; 0 when absent or not a number.
std::uint64_t element_u64(const redis_reply& r, std::size_t i);

/// Turns the bytes read from a Redis connection into replies, in order (hiredis' reader).
/// Not thread-safe; one per connection.
class resp_reader {
  public:
    /// Throws std::bad_alloc when hiredis cannot allocate its reader.
    resp_reader();
    ~resp_reader();
    resp_reader(const resp_reader&) = delete;
    resp_reader& operator=(const resp_reader&) = delete;

    /// Appends bytes; false when the reader is already in error (the stream is unusable).
    bool feed(const char* data, std::size_t size);

    enum class pull : std::uint8_t { reply, need_more, bad };
    /// The next complete reply into `out`; need_more until enough bytes have been fed; bad on a
    /// protocol error (the stream cannot be resynchronised: drop the connection).
    pull next(redis_reply& out);

  private:
    struct reader_free {
        void operator()(redisReader* r) const noexcept;
    };
    std::unique_ptr<redisReader, reader_free> reader_;
};

}  // namespace ditto::store::redis

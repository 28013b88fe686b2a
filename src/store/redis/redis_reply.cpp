#include "ditto/store/redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <new>

namespace ditto::store::redis {
namespace {

struct reply_free {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};

// hiredis 0.14 allocates an array reply's element table as soon as it has read the count, so
// `*2000000000\r\n` alone asks for 16 GB (found by fuzzing). Our largest replies are HGETALL of
// the virtual keys (two elements per key) and 10 000 audit ids; a larger count is refused as an
// allocation failure (a reader error: the connection is dropped), as hiredis 1.x does with its
// `maxelements`.
constexpr int max_array_elements = 1 << 22;

void* (*hiredis_create_array)(const redisReadTask*, int) = nullptr;

void* create_array_capped(const redisReadTask* task, int elements) {
    if (elements > max_array_elements)
        return nullptr;
    return hiredis_create_array(task, elements);
}

// hiredis' own reply functions with createArray capped. hiredis does not export its table, so
// it is copied from a reader's.
redisReplyObjectFunctions* capped_functions() {
    static redisReplyObjectFunctions fn = [] {
        redisReader* r = redisReaderCreate();
        if (r == nullptr)
            throw std::bad_alloc();
        redisReplyObjectFunctions copy = *r->fn;
        redisReaderFree(r);
        hiredis_create_array = copy.createArray;
        copy.createArray = create_array_capped;
        return copy;
    }();
    return &fn;
}

redis_reply convert(const redisReply& r) {
    redis_reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            out.type = r.type == REDIS_REPLY_STRING   ? redis_type::string
                       : r.type == REDIS_REPLY_STATUS ? redis_type::status
                                                      : redis_type::error;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = redis_type::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = redis_type::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i) {
                out.elements.push_back(convert(*r.element[i]));
            }
            break;
        default:
            break;
    }
    return out;
}

}  // namespace

std::optional<long long> redis_reply::as_int() const {
    if (type == redis_type::integer) {
        return integer;
    }
    if (type != redis_type::string || str.empty()) {
        return std::nullopt;
    }
    long long v = 0;
    const auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), v);
    if (ec != std::errc{} || end != str.data() + str.size()) {
        return std::nullopt;
    }
    return v;
}

std::optional<std::string_view> redis_reply::as_string() const {
    if (type == redis_type::string || type == redis_type::status) {
        return std::string_view(str);
    }
    return std::nullopt;
}

std::int64_t element_int(const redis_reply& r, std::size_t i) {
    if (!r.is_array() || i >= r.elements.size())
        return 0;
    return r.elements[i].as_int().value_or(0);
}

std::uint64_t element_u64(const redis_reply& r, std::size_t i) {
    if (!r.is_array() || i >= r.elements.size())
        return 0;
    auto s = r.elements[i].as_string();
    if (r.elements[i].is_integer())
        return static_cast<std::uint64_t>(std::max<long long>(0, r.elements[i].integer));
    if (!s)
        return 0;
    try {
        return std::stoull(std::string(*s));
    } catch (...) {
        return 0;
    }
}

void resp_reader::reader_free::operator()(redisReader* r) const noexcept {
    redisReaderFree(r);
}

resp_reader::resp_reader() : reader_(redisReaderCreateWithFunctions(capped_functions())) {
    if (!reader_) {
        throw std::bad_alloc();
    }
}

resp_reader::~resp_reader() = default;

bool resp_reader::feed(const char* data, std::size_t size) {
    return redisReaderFeed(reader_.get(), data, size) == REDIS_OK;
}

resp_reader::pull resp_reader::next(redis_reply& out) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
        return pull::bad;
    }
    if (raw == nullptr) {
        return pull::need_more;
    }
    const std::unique_ptr<redisReply, reply_free> owned(static_cast<redisReply*>(raw));
    out = convert(*owned);
    return pull::reply;
}

}  // namespace ditto::store::redis

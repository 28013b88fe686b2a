#pragma once

// The audit part of the store interface (docs/governance.md, "Audit"; docs/admin-api.md, "Audit"):
// append-only records `{id, ts_ms, kind, payload}`, listed newest first.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ditto/store/spend_log.hpp"

namespace ditto::store {

struct audit_record {
    std::uint64_t id = 0;  ///< increasing in append order
    std::int64_t ts_ms = 0;
    std::string kind;          ///< "proxy", "proxy.blocked", "proxy.error", "admin.…"
    std::string payload_json;  ///< a JSON object, already redacted
};

struct audit_query {
    std::size_t limit = 100;
    std::optional<std::int64_t> since_ts_ms;   ///< inclusive
    std::optional<std::int64_t> before_ts_ms;  ///< exclusive
};

/// Thread-safe.
class audit_log {
  public:
    virtual ~audit_log() = default;
    virtual boost::asio::awaitable<boost::system::error_code> append(std::string kind,
                                                                     std::string payload_json) = 0;
    /// A record whose payload the caller has already judged against the redactor the log
    /// applies (the proxy's record, docs/observability.md): a redacting log skips its own
    /// pass; every other log appends it as append() does.
    virtual boost::asio::awaitable<boost::system::error_code> append_redacted(
        std::string kind, std::string payload_json) {
        return append(std::move(kind), std::move(payload_json));
    }
    /// True when append_sync() may be called: the log appends without waiting (the memory
    /// store), so a request settles without a coroutine frame (docs/architecture.md).
    virtual bool appends_now() const { return false; }
    /// append() and append_redacted() without waiting; only when appends_now().
    virtual boost::system::error_code append_sync(std::string /*kind*/,
                                                  std::string /*payload_json*/) {
        return boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
    }
    virtual boost::system::error_code append_redacted_sync(std::string kind,
                                                           std::string payload_json) {
        return append_sync(std::move(kind), std::move(payload_json));
    }
    /// Appends the record — none when `kind` is empty (sampled out) — and counts `spend` in
    /// the spend buckets (spend_log.hpp), in one store operation where the store keeps
    /// buckets; a log without buckets only appends. `vetted`: as append_redacted().
    virtual boost::asio::awaitable<boost::system::error_code> append_spent(std::string kind,
                                                                           std::string payload_json,
                                                                           bool vetted,
                                                                           spend_sample /*spend*/) {
        if (kind.empty())
            co_return boost::system::error_code{};
        if (vetted)
            co_return co_await append_redacted(std::move(kind), std::move(payload_json));
        co_return co_await append(std::move(kind), std::move(payload_json));
    }
    /// append_spent() without waiting; only when appends_now().
    virtual boost::system::error_code append_spent_sync(std::string kind, std::string payload_json,
                                                        bool vetted, spend_sample /*spend*/) {
        if (kind.empty())
            return {};
        if (vetted)
            return append_redacted_sync(std::move(kind), std::move(payload_json));
        return append_sync(std::move(kind), std::move(payload_json));
    }
    /// The payload as this log would store it — redacted unless `vetted` — or nullopt when it
    /// would not store it (sampled out). For records written by another path, with a
    /// settlement (governor.hpp).
    virtual std::optional<std::string> stored_payload(std::string payload_json,
                                                      bool /*vetted*/) const {
        return payload_json;
    }
    /// Newest first, at most `q.limit` records.
    virtual boost::asio::awaitable<std::vector<audit_record>> list(audit_query q) = 0;
};

}  // namespace ditto::store

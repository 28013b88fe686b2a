#pragma once

// Spend over time (docs/governance.md, "Spend over time"): what each request served spent,
// counted in hourly buckets per key, model, tenant, project and user. A request's sample travels
// with its audit record or its settlement, so that counting it costs no store call of its own;
// the Admin API reads the buckets back (`GET /admin/spend`).

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/core/strings.hpp"

namespace ditto::store {

/// The five dimensions of a bucket row, each percent-encoded and joined by `|`: one string,
/// the row's name in a bucket (a Redis hash field). An absent tenant, project or user is empty.
inline std::string spend_part(std::string_view s) {
    return core::percent_encode(s, ":@*/+ ");
}

inline std::string spend_dims(std::string_view key, std::string_view model, std::string_view tenant,
                              std::string_view project, std::string_view user) {
    return spend_part(key) + '|' + spend_part(model) + '|' + spend_part(tenant) + '|' +
           spend_part(project) + '|' + spend_part(user);
}

struct spend_dims_parts {
    std::string key, model, tenant, project, user;
};

/// spend_dims() read back; nullopt for a name of another shape.
inline std::optional<spend_dims_parts> split_spend_dims(std::string_view dims) {
    spend_dims_parts out;
    std::string* const parts[5] = {&out.key, &out.model, &out.tenant, &out.project, &out.user};
    std::size_t at = 0;
    for (std::size_t i = 0; i < 5; ++i) {
        const auto bar = dims.find('|', at);
        const bool last = i == 4;
        if (last != (bar == std::string_view::npos))
            return std::nullopt;  // too few or too many parts
        const auto end = last ? dims.size() : bar;
        *parts[i] = core::percent_decode(dims.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

/// One served request's spend, counted once with its settlement or audit record.
struct spend_sample {
    /// Names a spend-only write, so that a retry counts it once: unique in this process (the
    /// request id is not: a client's x-request-id is only unique per key).
    std::uint64_t write_id = 0;
    std::string dims;                ///< spend_dims()
    std::uint64_t input_tokens = 0;  ///< as the upstream reported them (cached included)
    std::uint64_t output_tokens = 0;
    std::uint64_t cached_tokens = 0;
    std::uint64_t usd_micros = 0;  ///< what the gateway priced it at; 0 when it did not
};

struct spend_counters {
    std::uint64_t requests = 0;
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    std::uint64_t cached_tokens = 0;
    std::uint64_t usd_micros = 0;

    void add(const spend_counters& o) {
        requests += o.requests;
        input_tokens += o.input_tokens;
        output_tokens += o.output_tokens;
        cached_tokens += o.cached_tokens;
        usd_micros += o.usd_micros;
    }
    static spend_counters of(const spend_sample& s) {
        return {1, s.input_tokens, s.output_tokens, s.cached_tokens, s.usd_micros};
    }
};

struct spend_row {
    std::int64_t start = 0;  ///< unix seconds of the bucket's hour (or UTC day)
    std::string_view dims;   ///< in the result's storage
    spend_counters c;
};

struct spend_query {
    std::int64_t from = 0;  ///< unix seconds, inclusive (rounded down to the bucket)
    std::int64_t to = 0;    ///< exclusive
    bool daily = false;     ///< UTC days instead of hours
};

struct spend_result {
    boost::system::error_code error;
    std::vector<spend_row> rows;
    /// What the rows' names point into: a 90-day query reads a hundred thousand rows, and is
    /// not made to copy each name.
    std::shared_ptr<const void> storage;
};

/// Thread-safe.
class spend_log {
  public:
    virtual ~spend_log() = default;
    virtual boost::asio::awaitable<spend_result> query(spend_query q) = 0;
};

}  // namespace ditto::store

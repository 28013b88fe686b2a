#pragma once

// Records of requests retried with one x-request-id (docs/proxy.md, "Retries with x-request-id"):
// the first request with an id leads and holds a lease; its answer, once complete, is kept for
// replay. Memory store: one replica; Redis: every replica sharing the prefix.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace ditto::store {

enum class dedup_state : std::uint8_t {
    acquired,   ///< no record: this request leads, holding the lease
    conflict,   ///< the id was used for a different request (another fingerprint)
    completed,  ///< `record` is the first answer, to replay
    in_flight,  ///< another request with this id and fingerprint holds the lease
};

struct dedup_begin_result {
    boost::system::error_code error;
    dedup_state state = dedup_state::acquired;
    std::string record;  ///< completed only: the stored answer (cache::encode)
};

/// A leader's hold on a record: its id, the request's fingerprint (64 hex digits) and a token
/// no other request has.
struct dedup_lease {
    std::string id;
    std::string fingerprint;
    std::string token;
};

class dedup_store {
  public:
    virtual ~dedup_store() = default;
    /// Atomically: no record (or an expired or undecodable one) → leads, with a lease of
    /// `lease` (`l.token` holds it); else conflict, completed or in flight, judged by
    /// `l.fingerprint`.
    virtual boost::asio::awaitable<dedup_begin_result> begin(dedup_lease l,
                                                             std::chrono::milliseconds lease) = 0;
    /// The leader's operations act only while its token holds the lease: one whose lease
    /// expired and was taken over changes nothing, and that is not an error.
    /// Extends the lease to `lease` from now.
    virtual boost::asio::awaitable<boost::system::error_code> refresh(
        dedup_lease l, std::chrono::milliseconds lease) = 0;
    /// Replaces the lease with the completed `record`, kept for `retention`.
    virtual boost::asio::awaitable<boost::system::error_code> complete(
        dedup_lease l, std::string record, std::chrono::milliseconds retention) = 0;
    /// Deletes the record: the next request with the id leads again.
    virtual boost::asio::awaitable<boost::system::error_code> abandon(dedup_lease l) = 0;
};

}  // namespace ditto::store

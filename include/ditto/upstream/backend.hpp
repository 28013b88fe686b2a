#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/upstream/url.hpp"

namespace boost::asio::ssl {
class context;
}

namespace ditto::upstream {

/// One upstream as the proxy uses it, built once from its config. Immutable after
/// construction except the in-flight counter; shared by all workers.
class backend {
  public:
    /// Throws std::runtime_error when the URL cannot be used or TLS cannot be set up.
    explicit backend(const config::backend_config& cfg);
    ~backend();
    backend(const backend&) = delete;
    backend& operator=(const backend&) = delete;

    const std::string& name() const { return name_; }
    const base_url& url() const { return url_; }
    /// Injected headers (lowercase names), replacing client headers of the same name.
    const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }
    /// The backend's query params, URL-encoded, joined with '&' (no leading '?').
    const std::string& encoded_query() const { return query_; }
    /// The upstream model for `model` (exact, else "*"), if mapped.
    const std::string* map_model(const std::string& model) const;
    bool has_model_map() const { return !model_map_.empty(); }
    /// Connect + response head, and each gap between body pieces (docs/proxy.md).
    std::chrono::milliseconds timeout() const { return timeout_; }
    /// `max_response_seconds`: from the request sent to the answer's last byte; 0 = no cap.
    std::chrono::milliseconds max_response() const { return max_response_; }
    /// `min_response_bytes_per_second`, judged over each `timeout()` window of a relayed
    /// body; 0 = off.
    std::uint64_t min_bytes_per_second() const { return min_bytes_per_second_; }
    /// How `POST /v1/responses` reaches it (docs/dialects.md).
    config::backend_config::responses_mode responses() const { return responses_; }
    /// It serves Anthropic Messages itself (`"provider": "anthropic"`).
    bool speaks_anthropic() const { return speaks_anthropic_; }
    /// TLS client context (verification as configured); null for http://.
    boost::asio::ssl::context* tls() const { return tls_.get(); }

    /// Takes one of `max_in_flight` slots; false when the backend is full (or unlimited: true).
    bool try_acquire();
    void release();
    std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

    /// A pooled connection had bytes past a complete answer and was closed (issue 19).
    void note_desync() { desyncs_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t desyncs() const { return desyncs_.load(std::memory_order_relaxed); }

  private:
    std::string name_;
    base_url url_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::string query_;
    std::map<std::string, std::string> model_map_;
    std::chrono::milliseconds timeout_;
    std::chrono::milliseconds max_response_{0};
    std::uint64_t min_bytes_per_second_ = 0;
    std::optional<std::size_t> max_in_flight_;
    config::backend_config::responses_mode responses_;
    bool speaks_anthropic_;
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<std::uint64_t> desyncs_{0};
    std::unique_ptr<boost::asio::ssl::context> tls_;
};

/// All backends of a config, by name and by index.
class backend_set {
  public:
    explicit backend_set(const std::vector<config::backend_config>& cfgs);
    backend* find(std::string_view name) const;
    std::size_t index_of(const backend& b) const;
    const std::vector<std::unique_ptr<backend>>& all() const { return backends_; }

  private:
    std::vector<std::unique_ptr<backend>> backends_;  ///< sorted by name
};

}  // namespace ditto::upstream

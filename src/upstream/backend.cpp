#include "ditto/upstream/backend.hpp"

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

#include "ditto/core/strings.hpp"
#include "ditto/log/log.hpp"

namespace ditto::upstream {
namespace {

std::unique_ptr<boost::asio::ssl::context> make_tls(const config::backend_config& cfg) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (cfg.tls_insecure_skip_verify) {
        log::warn("upstream.tls_insecure",
                  "certificate verification is OFF for this backend (tls_insecure_skip_verify)",
                  {{"backend", cfg.name}});
        ctx->set_verify_mode(ssl::verify_none);
        return ctx;
    }
    ctx->set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (cfg.tls_ca_file) {
        ctx->load_verify_file(*cfg.tls_ca_file, ec);
    } else {
        ctx->set_default_verify_paths(ec);
    }
    if (ec) {
        throw std::runtime_error("backend " + cfg.name +
                                 ": cannot load CA certificates: " + ec.message());
    }
    return ctx;
}

}  // namespace

backend::backend(const config::backend_config& cfg)
    : name_(cfg.name),
      model_map_(cfg.model_map),
      timeout_(std::chrono::seconds(cfg.effective_timeout_seconds())),
      max_response_(std::chrono::seconds(cfg.max_response_seconds.value_or(0))),
      min_bytes_per_second_(cfg.min_response_bytes_per_second.value_or(0)),
      responses_(cfg.responses),
      speaks_anthropic_(cfg.provider == "anthropic") {
    auto u = parse_base_url(cfg.base_url);
    if (!u)
        throw std::runtime_error("backend " + cfg.name + ": unusable base_url");
    url_ = std::move(*u);
    for (const auto& [k, v] : cfg.headers)
        headers_.emplace_back(core::to_lower(k), v);
    for (const auto& [k, v] : cfg.query_params) {
        if (!query_.empty())
            query_ += '&';
        query_ += url_encode(k) + "=" + url_encode(v);
    }
    if (cfg.max_in_flight)
        max_in_flight_ = std::max<std::size_t>(1, *cfg.max_in_flight);
    if (url_.tls)
        tls_ = make_tls(cfg);
}

backend::~backend() = default;

const std::string* backend::map_model(const std::string& model) const {
    if (auto it = model_map_.find(model); it != model_map_.end())
        return &it->second;
    if (auto it = model_map_.find("*"); it != model_map_.end())
        return &it->second;
    return nullptr;
}

bool backend::try_acquire() {
    if (!max_in_flight_) {
        in_flight_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    auto cur = in_flight_.load(std::memory_order_relaxed);
    do {
        if (cur >= *max_in_flight_)
            return false;
    } while (!in_flight_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
    return true;
}

void backend::release() {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

backend_set::backend_set(const std::vector<config::backend_config>& cfgs) {
    for (const auto& c : cfgs)
        backends_.push_back(std::make_unique<backend>(c));
    std::sort(backends_.begin(), backends_.end(),
              [](const auto& a, const auto& b) { return a->name() < b->name(); });
}

backend* backend_set::find(std::string_view name) const {
    auto it = std::lower_bound(backends_.begin(), backends_.end(), name,
                               [](const auto& b, std::string_view n) { return b->name() < n; });
    return (it != backends_.end() && (*it)->name() == name) ? it->get() : nullptr;
}

std::size_t backend_set::index_of(const backend& b) const {
    for (std::size_t i = 0; i < backends_.size(); ++i) {
        if (backends_[i].get() == &b)
            return i;
    }
    return backends_.size();
}

}  // namespace ditto::upstream

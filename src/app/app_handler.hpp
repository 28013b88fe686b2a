#pragma once

#include <functional>
#include <memory>

#include "ditto/http/message.hpp"
#include "ditto/metrics/counters.hpp"

namespace ditto::app {

/// Dispatches every request: the fixed routes (/health, /ready, /metrics) here, `/v1/*` to
/// the proxy chain. Unknown paths → empty 404; a known path with a wrong method → 405.
class app_handler final : public http::handler {
  public:
    app_handler(std::shared_ptr<metrics::counters> counters, std::uint64_t max_body_bytes);

    boost::asio::awaitable<http::response> handle(http::request& req,
                                                  const http::request_info& info) override;
    std::string reject_body(http::reject_reason reason, std::string_view target) override;

  private:
    std::shared_ptr<metrics::counters> counters_;
    std::uint64_t max_body_bytes_;
};

}  // namespace ditto::app

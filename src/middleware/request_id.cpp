#include <atomic>
#include <chrono>

#include "ditto/core/strings.hpp"
#include "ditto/middleware/builtin.hpp"

namespace ditto::middleware {
namespace {

class request_id final : public sync_middleware {
  public:
    step_result enter(proxy_context& ctx, std::optional<http::response>& /*out*/) override {
        if (auto it = ctx.req.find("x-request-id"); it != ctx.req.end()) {
            ctx.client_request_id = true;  // present, even blank (docs/proxy.md)
            ctx.request_id = std::string(core::trim(it->value()));
        }
        if (ctx.request_id.empty()) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
            ctx.request_id = "ditto-" + std::to_string(ms) + "-" +
                             std::to_string(seq_.fetch_add(1, std::memory_order_relaxed));
        }
        return step_result::next;
    }

  private:
    std::atomic<std::uint64_t> seq_{0};
};

}  // namespace

std::shared_ptr<middleware> make_request_id() {
    return std::make_shared<request_id>();
}

}  // namespace ditto::middleware

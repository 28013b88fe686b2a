#include "redis_dedup_store.hpp"

#include "redis_client.hpp"
#include "scripts.hpp"

namespace ditto::store::redis {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

std::string millis(std::chrono::milliseconds d) {
    return std::to_string(std::max<std::int64_t>(1, d.count()));
}

std::string held(const dedup_lease& l) {
    return "L" + l.fingerprint + l.token;
}

class redis_dedup_store final : public dedup_store {
  public:
    redis_dedup_store(std::shared_ptr<redis_client> c, std::string prefix)
        : c_(std::move(c)), p_(std::move(prefix) + ":proxy_request_idempotency:") {}

    net::awaitable<dedup_begin_result> begin(dedup_lease l,
                                             std::chrono::milliseconds lease) override {
        std::vector<std::string> keys{p_ + l.id};
        std::vector<std::string> argv{l.fingerprint, l.token, millis(lease)};
        auto r = co_await c_->script(dedup_begin_script(), std::move(keys), std::move(argv));
        dedup_begin_result out;
        out.error = failure_of(r);
        if (out.error)
            co_return out;
        const auto code = r.reply.is_array() && !r.reply.elements.empty()
                              ? r.reply.elements[0].as_int().value_or(0)
                              : 0;
        switch (code) {
            case 1:
                out.state = dedup_state::acquired;
                break;
            case 2:
                out.state = dedup_state::conflict;
                break;
            case 3:
                out.state = dedup_state::completed;
                if (r.reply.elements.size() > 1)
                    out.record = std::move(r.reply.elements[1].str);
                break;
            case 4:
                out.state = dedup_state::in_flight;
                break;
            default:
                out.error = make_error_code(boost::system::errc::protocol_error);
        }
        co_return out;
    }

    net::awaitable<error_code> refresh(dedup_lease l, std::chrono::milliseconds lease) override {
        std::vector<std::string> argv{"refresh", held(l), millis(lease)};
        co_return co_await end(std::move(l), std::move(argv));
    }

    net::awaitable<error_code> complete(dedup_lease l, std::string record,
                                        std::chrono::milliseconds retention) override {
        std::vector<std::string> argv{"complete", held(l), millis(retention),
                                      "C" + l.fingerprint + record};
        co_return co_await end(std::move(l), std::move(argv));
    }

    net::awaitable<error_code> abandon(dedup_lease l) override {
        std::vector<std::string> argv{"abandon", held(l)};
        co_return co_await end(std::move(l), std::move(argv));
    }

  private:
    net::awaitable<error_code> end(dedup_lease l, std::vector<std::string> argv) {
        std::vector<std::string> keys{p_ + l.id};
        auto r = co_await c_->script(dedup_end_script(), std::move(keys), std::move(argv));
        co_return failure_of(r);
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;
};

}  // namespace

std::shared_ptr<dedup_store> make_redis_dedup_store(std::shared_ptr<redis_client> client,
                                                    std::string prefix) {
    return std::make_shared<redis_dedup_store>(std::move(client), std::move(prefix));
}

}  // namespace ditto::store::redis

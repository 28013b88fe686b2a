#include "audit_filter.hpp"

namespace ditto::app {
namespace {

class redacting_audit final : public store::audit_log {
  public:
    redacting_audit(std::shared_ptr<store::audit_log> inner,
                    std::shared_ptr<const observe::redactor> r, double rate)
        : inner_(std::move(inner)), r_(std::move(r)), rate_(rate) {}

    boost::asio::awaitable<boost::system::error_code> append(std::string kind,
                                                             std::string payload) override {
        if (!kept(payload))
            co_return boost::system::error_code{};
        auto clean = r_->redact_json(payload);
        co_return co_await inner_->append(std::move(kind), std::move(clean));
    }

    boost::asio::awaitable<boost::system::error_code> append_redacted(
        std::string kind, std::string payload) override {
        if (!kept(payload))
            co_return boost::system::error_code{};
        co_return co_await inner_->append(std::move(kind), std::move(payload));
    }

    bool appends_now() const override { return inner_->appends_now(); }
    boost::system::error_code append_sync(std::string kind, std::string payload) override {
        if (!kept(payload))
            return {};
        return inner_->append_sync(std::move(kind), r_->redact_json(payload));
    }
    boost::system::error_code append_redacted_sync(std::string kind, std::string payload) override {
        if (!kept(payload))
            return {};
        return inner_->append_sync(std::move(kind), std::move(payload));
    }

    // A record sampled out still counts its spend: the buckets are totals, not samples.
    boost::asio::awaitable<boost::system::error_code> append_spent(
        std::string kind, std::string payload, bool vetted, store::spend_sample spend) override {
        // No `?:` making an optional here: GCC 12 mishandles such temporaries in coroutines.
        std::optional<std::string> stored;
        if (!kind.empty())
            stored = stored_payload(std::move(payload), vetted);
        std::string text;
        if (stored)
            text = std::move(*stored);
        else
            kind.clear();
        co_return co_await inner_->append_spent(std::move(kind), std::move(text), true,
                                                std::move(spend));
    }
    boost::system::error_code append_spent_sync(std::string kind, std::string payload, bool vetted,
                                                store::spend_sample spend) override {
        std::optional<std::string> stored;
        if (!kind.empty())
            stored = stored_payload(std::move(payload), vetted);
        if (!stored)
            kind.clear();
        return inner_->append_spent_sync(std::move(kind), stored ? std::move(*stored) : "", true,
                                         std::move(spend));
    }

    std::optional<std::string> stored_payload(std::string payload, bool vetted) const override {
        if (!kept(payload))
            return std::nullopt;
        if (vetted)
            return payload;
        return r_->redact_json(payload);
    }

    boost::asio::awaitable<std::vector<store::audit_record>> list(store::audit_query q) override {
        auto records = co_await inner_->list(q);
        for (auto& rec : records)
            rec.payload_json = r_->redact_json(rec.payload_json);
        co_return records;
    }

  private:
    bool kept(std::string_view payload) const {
        return rate_ >= 1.0 ||
               observe::sampled("audit", observe::sampling_identity(payload), rate_);
    }

    std::shared_ptr<store::audit_log> inner_;
    std::shared_ptr<const observe::redactor> r_;
    double rate_;
};

}  // namespace

std::shared_ptr<store::audit_log> with_redaction(std::shared_ptr<store::audit_log> inner,
                                                 std::shared_ptr<const observe::redactor> r,
                                                 double rate) {
    return std::make_shared<redacting_audit>(std::move(inner), std::move(r), rate);
}

}  // namespace ditto::app

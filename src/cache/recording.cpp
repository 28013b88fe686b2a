#include "ditto/cache/recording.hpp"

#include <array>

#include "ditto/core/sse_usage.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::cache {
namespace {

namespace net = boost::asio;

class recording_stream final : public http::body_stream {
  public:
    recording_stream(std::unique_ptr<http::body_stream> inner, entry head, std::uint64_t limit,
                     bool strip, std::unique_ptr<recording_sink> sink)
        : inner_(std::move(inner)),
          head_(std::move(head)),
          limit_(limit),
          strip_(strip),
          sink_(std::move(sink)) {}

    net::awaitable<std::optional<std::string>> next(boost::system::error_code& ec) override {
        auto piece = co_await inner_->next(ec);
        if (!recording_)
            co_return piece;
        if (ec) {
            recording_ = false;
            std::string().swap(head_.body);
            co_await sink_->abandon(false);
            co_return piece;
        }
        if (!piece) {
            recording_ = false;
            if (strip_)
                head_.body = without_usage_chunk(head_.body);
            co_await sink_->complete(std::move(head_));
            co_return piece;
        }
        if (head_.body.size() + piece->size() > limit_) {
            recording_ = false;
            std::string().swap(head_.body);
            co_await sink_->abandon(true);
        } else {
            head_.body += *piece;
        }
        co_return piece;
    }

  private:
    std::unique_ptr<http::body_stream> inner_;
    entry head_;
    std::uint64_t limit_;
    bool strip_;
    std::unique_ptr<recording_sink> sink_;
    bool recording_ = true;
};

}  // namespace

bool replayable(std::string_view lower) {
    static constexpr std::array<std::string_view, 13> dropped = {"connection",
                                                                 "keep-alive",
                                                                 "proxy-authenticate",
                                                                 "proxy-connection",
                                                                 "te",
                                                                 "trailer",
                                                                 "transfer-encoding",
                                                                 "upgrade",
                                                                 "content-length",
                                                                 "date",
                                                                 "set-cookie",
                                                                 "x-request-id",
                                                                 "x-ditto-cache"};
    if (lower.starts_with("x-ditto-") && lower != "x-ditto-shim")
        return false;
    for (auto d : dropped) {
        if (lower == d)
            return false;
    }
    return true;
}

entry answer_head(const http::response& res) {
    entry e;
    e.status = res.msg.result_int();
    if (auto b = res.msg.find("x-ditto-backend"); b != res.msg.end())
        e.backend = std::string(b->value());
    for (const auto& f : res.msg) {
        auto name =
            core::to_lower(std::string_view(f.name_string().data(), f.name_string().size()));
        if (replayable(name))
            e.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    // A cache hit's stored headers ("name: value\r\n" each), replayable when they were stored.
    std::string_view stored = res.stored_fields;
    while (!stored.empty()) {
        const auto eol = stored.find("\r\n");
        const auto line = stored.substr(0, eol);
        stored.remove_prefix(eol == std::string_view::npos ? stored.size() : eol + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        auto name = core::to_lower(line.substr(0, colon));
        if (replayable(name))
            e.headers.emplace_back(std::move(name),
                                   std::string(core::trim(line.substr(colon + 1))));
    }
    e.wire = wire_headers(e);
    return e;
}

std::string_view answer_body(const http::response& res) {
    if (res.stored_body != nullptr)
        return *res.stored_body;
    return res.msg.body();
}

http::response stored_answer(std::shared_ptr<const entry> e, const http::request& req,
                             std::vector<std::shared_ptr<void>> holds) {
    http::response res;
    res.msg.version(req.version());
    res.msg.result(e->status);
    if (e->wire.empty()) {  // an entry made without its wire form
        for (const auto& [name, value] : e->headers)
            res.msg.insert(name, value);
    }
    res.stored_fields = e->wire;
    res.msg.keep_alive(req.keep_alive());
    res.stored_body = &e->body;
    res.msg.content_length(e->body.size());
    res.holds = std::move(holds);
    res.holds.push_back(std::const_pointer_cast<entry>(std::move(e)));
    return res;
}

std::string without_usage_chunk(const std::string& body) {
    core::sse_usage_scanner scanner(true);
    std::string out;
    scanner.feed(body, out);
    scanner.finish(out);
    return out;
}

std::unique_ptr<http::body_stream> record(std::unique_ptr<http::body_stream> inner, entry head,
                                          std::uint64_t limit, bool strip_usage,
                                          std::unique_ptr<recording_sink> sink) {
    return std::make_unique<recording_stream>(std::move(inner), std::move(head), limit, strip_usage,
                                              std::move(sink));
}

}  // namespace ditto::cache

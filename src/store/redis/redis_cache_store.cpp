#include "redis_cache_store.hpp"

#include "redis_client.hpp"

namespace ditto::store::redis {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

// Escapes SCAN MATCH's glob characters, so a prefix like "a*b" matches only itself.
std::string glob_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

std::vector<std::string> scan_command(const std::string& cursor, const std::string& pattern) {
    return {"SCAN", cursor, "MATCH", pattern, "COUNT", "256"};
}

std::vector<std::vector<std::string>> per_key(std::string_view verb,
                                              const std::vector<std::string>& keys) {
    std::vector<std::vector<std::string>> out;
    out.reserve(keys.size());
    for (const auto& k : keys)
        out.push_back({std::string(verb), k});
    return out;
}

class redis_cache_store final : public cache_store {
  public:
    redis_cache_store(std::shared_ptr<redis_client> c, std::string prefix)
        : c_(std::move(c)), p_(std::move(prefix) + ":proxy_cache:") {}

    net::awaitable<cache_get_result> get(std::string key) override {
        std::vector<std::string> args{"GET", p_ + key};
        auto r = co_await c_->exec(std::move(args));
        cache_get_result out;
        out.error = failure_of(r);
        if (!out.error && r.reply.is_string())
            out.value = std::move(r.reply.str);
        co_return out;
    }

    net::awaitable<error_code> set(std::string key, std::string value,
                                   std::uint64_t ttl_seconds) override {
        std::vector<std::string> args{"SET", p_ + key, std::move(value), "EX",
                                      std::to_string(std::max<std::uint64_t>(1, ttl_seconds))};
        auto r = co_await c_->exec(std::move(args));
        co_return failure_of(r);
    }

    net::awaitable<cache_purge_result> erase(std::string key) override {
        std::vector<std::string> args{"DEL", p_ + key};
        auto r = co_await c_->exec(std::move(args));
        cache_purge_result out;
        out.error = failure_of(r);
        if (!out.error)
            out.deleted = static_cast<std::uint64_t>(std::max(0LL, r.reply.as_int().value_or(0)));
        co_return out;
    }

    // docs/caching.md, "Purge": SCAN the prefix 256 at a time (on every primary of a Redis
    // Cluster: entries spread over all of them); with a selector, GET each batch, match the
    // decoded metadata, DEL the matches. An entry that expires meanwhile is simply not counted.
    net::awaitable<cache_purge_result> purge(std::function<bool(std::string_view)> match) override {
        cache_purge_result out;
        const auto nodes = co_await c_->scan_nodes();
        if (nodes.empty())
            out.error = make_error_code(redis_errc::not_ready);
        for (const auto& node : nodes) {
            auto part = co_await purge_node(node, match);
            out.deleted += part.deleted;
            if (part.error) {
                out.error = part.error;
                break;
            }
        }
        co_return out;
    }

  private:
    net::awaitable<cache_purge_result> purge_node(redis_endpoint node,
                                                  std::function<bool(std::string_view)> match) {
        cache_purge_result out;
        const std::string pattern = glob_escape(p_) + "*";
        std::string cursor = "0";
        do {
            auto scanned = co_await c_->exec_at(node, scan_command(cursor, pattern));
            out.error = failure_of(scanned);
            if (out.error)
                co_return out;
            const auto& rep = scanned.reply;
            if (!rep.is_array() || rep.elements.size() != 2 || !rep.elements[1].is_array()) {
                out.error = make_error_code(redis_errc::protocol_error);
                co_return out;
            }
            cursor = rep.elements[0].str;
            std::vector<std::string> keys;
            for (const auto& k : rep.elements[1].elements)
                keys.push_back(k.str);
            if (match && !keys.empty()) {
                auto values = co_await c_->pipeline(per_key("GET", keys));
                if (values.error) {
                    out.error = values.error;
                    co_return out;
                }
                std::vector<std::string> matched;
                for (std::size_t i = 0; i < keys.size() && i < values.replies.size(); ++i) {
                    if (values.replies[i].is_string() && match(values.replies[i].str))
                        matched.push_back(keys[i]);
                }
                keys = std::move(matched);
            }
            if (!keys.empty()) {
                auto deleted = co_await c_->pipeline(per_key("DEL", keys));
                if (deleted.error) {
                    out.error = deleted.error;
                    co_return out;
                }
                for (const auto& d : deleted.replies)
                    out.deleted +=
                        static_cast<std::uint64_t>(std::max(0LL, d.as_int().value_or(0)));
            }
        } while (cursor != "0");
        co_return out;
    }

    std::shared_ptr<redis_client> c_;
    std::string p_;  ///< "<prefix>:proxy_cache:"
};

}  // namespace

std::shared_ptr<cache_store> make_redis_cache_store(std::shared_ptr<redis_client> client,
                                                    std::string prefix) {
    return std::make_shared<redis_cache_store>(std::move(client), std::move(prefix));
}

}  // namespace ditto::store::redis

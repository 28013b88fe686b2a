#include "support/replicas.hpp"

#include <algorithm>
#include <thread>

#include "support/redis_layout.hpp"

namespace ditto::test {

using namespace std::chrono_literals;

std::string trim_end(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.pop_back();
    return s;
}

void Replicas::start(int n, const std::string& keys, std::vector<std::string> args,
                     const std::string& backend_extra,
                     const std::vector<std::pair<std::string, std::string>>& env) {
    mock.start();
    config = R"({"backends":[{"name":"primary","base_url":"http://127.0.0.1:)" +
             std::to_string(mock.port) + R"(/v1")" + backend_extra + R"(}],"virtual_keys":[)" +
             keys + R"(],"router":{"default_backends":[{"backend":"primary"}]})" +
             (extra_top.empty() ? "" : "," + extra_top) + "}";
    if (std::find(args.begin(), args.end(), "--redis-env") == args.end() &&
        std::find(args.begin(), args.end(), "--redis") == args.end())
        args.insert(args.end(), {"--redis", redis.url()});
    args.insert(args.end(), {"--redis-prefix", "t"});
    for (int i = 0; i < n; ++i) {
        gws.push_back(std::make_unique<running_gateway>());
        gws.back()->start(config, args, env);
    }
}

std::string Replicas::cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"-p", std::to_string(redis.port())});
    if (!redis.password().empty())
        args.insert(args.begin(), {"-a", redis.password(), "--no-auth-warning"});
    return trim_end(run_to_exit("/usr/bin/redis-cli", args).out);
}

std::optional<http_response> Replicas::post(int gw, const std::string& token,
                                            const std::string& body, http_headers extra) {
    extra.emplace_back("Authorization", "Bearer " + token);
    extra.emplace_back("Content-Type", "application/json");
    return http_request(gws[static_cast<std::size_t>(gw)]->port, "POST", "/v1/chat/completions",
                        body, extra);
}

std::pair<std::string, std::string> Replicas::audit_of(const std::string& request_id) {
    if (redis_layout2()) {
        // The stream's first record naming the request: its kind, a newline, its payload.
        const auto found = cli({"EVAL", R"lua(
            local want = '"request_id":"' .. ARGV[1] .. '"'
            for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
                local f, kind, p = e[2], '', ''
                for i = 1, #f, 2 do
                    if f[i] == 'kind' then kind = f[i + 1] elseif f[i] == 'payload' then p = f[i + 1] end
                end
                if string.find(p, want, 1, true) then return {kind, p} end
            end
            return {})lua",
                                "1", "t:audit", request_id});
        const auto nl = found.find('\n');
        if (nl == std::string::npos)
            return {};
        return {found.substr(0, nl), trim_end(found.substr(nl + 1))};
    }
    const auto ids = cli({"ZRANGE", "t:audit_by_ts", "0", "-1"});
    std::size_t at = 0;
    while (at < ids.size()) {
        auto end = ids.find('\n', at);
        if (end == std::string::npos)
            end = ids.size();
        const auto id = trim_end(ids.substr(at, end - at));
        at = end + 1;
        auto payload = cli({"HGET", "t:audit:" + id, "payload"});
        if (payload.find(R"("request_id":")" + request_id + "\"") != std::string::npos)
            return {cli({"HGET", "t:audit:" + id, "kind"}), payload};
    }
    return {};
}

std::pair<std::string, std::string> Replicas::await_audit(const std::string& request_id,
                                                          std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto found = audit_of(request_id);
    while (found.first.empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        found = audit_of(request_id);
    }
    return found;
}

std::vector<int> Replicas::spread(const std::string& token, int per_replica) {
    const auto req = make_request(
        "POST", "/v1/chat/completions",
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}}, exact_chat);
    std::vector<std::vector<int>> parts(gws.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < gws.size(); ++i) {
        threads.emplace_back(
            [&, i] { parts[i] = concurrent_statuses(gws[i]->port, req, per_replica); });
    }
    for (auto& t : threads)
        t.join();
    std::vector<int> all;
    for (auto& p : parts)
        all.insert(all.end(), p.begin(), p.end());
    return all;
}

}  // namespace ditto::test

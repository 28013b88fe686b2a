#include "redis_client.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>

#include "redis_client_cluster.hpp"

namespace ditto::store::redis {
namespace {

std::atomic<std::uint64_t> next_client_id{1};

// The connection of this thread's executor for the last client used on it: a request makes
// several Redis calls, all from one worker, so this hits nearly always.
struct thread_cache {
    std::uint64_t client = 0;
    const void* context = nullptr;
    std::uint64_t generation = 0;  ///< the client's close_all() count when it was filled
    std::shared_ptr<redis_connection> conn;
};
thread_local thread_cache cache;

}  // namespace

redis_client::redis_client(redis_url url, redis_options opt, std::string home)
    : url_(std::move(url)), opt_(std::move(opt)), id_(next_client_id.fetch_add(1)) {
    // Its connections learn together which Sentinel answers (redis_connection.hpp).
    if (!url_.sentinels.empty() && !opt_.sentinel_next)
        opt_.sentinel_next = std::make_shared<std::atomic<std::size_t>>(0);
    if (url_.cluster()) {
        cluster_ = std::make_unique<cluster_state>();
        home_slot_ = key_slot(home);
    }
}

redis_client::~redis_client() {
    close_all();
}

void redis_client::close_all() {
    std::vector<entry> conns;
    {
        const std::lock_guard<std::mutex> lock(mu_);
        conns.swap(conns_);
    }
    for (auto& e : conns)
        e.conn->close();
    // Other threads' caches see the generation change and look again (after the swap: a
    // cache filled before it holds the old generation); the calling thread's goes now.
    // REGRESSION: the background thread kept its closed connection after the shutdown closed
    // the store, so the writes left to it at exit (retries, settlements of requests a worker
    // left) all failed, for the whole 5 s grace ("pending settlements abandoned at exit").
    generation_.fetch_add(1, std::memory_order_acq_rel);
    if (cache.client == id_)
        cache = {};
    forget_cluster_routes(id_);
}

void redis_client::seal() {
    sealed_.store(true, std::memory_order_release);
    close_all();
}

boost::asio::awaitable<std::shared_ptr<redis_connection>> redis_client::connection() {
    auto ex = co_await boost::asio::this_coro::executor;
    co_return connection_for(ex);
}

// Not a coroutine: locks must not live in a coroutine frame (GCC 12 mishandles them there).
std::shared_ptr<redis_connection> redis_client::connection_for(
    const boost::asio::any_io_executor& ex) {
    const void* ctx = &boost::asio::query(ex, boost::asio::execution::context);
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    if (cache.client == id_ && cache.context == ctx && cache.generation == generation)
        return cache.conn;
    auto conn = make_connection(ex, {}, url_);
    cache = {id_, ctx, generation, conn};
    return conn;
}

std::shared_ptr<redis_connection> redis_client::connection_at(
    const boost::asio::any_io_executor& ex, const redis_endpoint& node) {
    return make_connection(ex, node.host + ':' + std::to_string(node.port), node_url(node));
}

// The executor's connection to `node`, found in the registry or made (and started) now.
std::shared_ptr<redis_connection> redis_client::make_connection(
    const boost::asio::any_io_executor& ex, const std::string& node, const redis_url& url) {
    const void* ctx = &boost::asio::query(ex, boost::asio::execution::context);
    std::shared_ptr<redis_connection> conn;
    if (sealed_.load(std::memory_order_acquire)) {
        // Never started, closed now (on its own executor, as we are): every command fails
        // at once, and nothing is left running.
        conn = redis_connection::create(ex, url, opt_);
        conn->close();
        return conn;
    }
    bool created = false;
    {
        const std::lock_guard<std::mutex> lock(mu_);
        for (const auto& e : conns_) {
            if (e.context == ctx && e.node == node)
                conn = e.conn;
        }
        if (!conn) {
            conn = redis_connection::create(ex, url, opt_);
            conns_.push_back({ctx, node, conn});
            created = true;
        }
    }
    // Outside the lock: starting may run handlers inline, and they may come back here.
    if (created)
        conn->start();
    return conn;
}

boost::asio::awaitable<redis_result> redis_client::exec(std::vector<std::string> args) {
    if (cluster_) {
        std::vector<std::vector<std::string>> one;
        one.push_back(std::move(args));
        co_return single(co_await cluster_run(one));
    }
    auto conn = co_await connection();
    co_return co_await conn->exec(std::move(args));
}

boost::asio::awaitable<redis_pipeline_result> redis_client::pipeline(
    std::vector<std::vector<std::string>> commands) {
    if (cluster_)
        co_return co_await cluster_run(commands);
    auto conn = co_await connection();
    co_return co_await conn->exec_pipeline(std::move(commands));
}

boost::asio::awaitable<redis_result> redis_client::script(const lua_script& s,
                                                          std::vector<std::string> argv) {
    co_return co_await script(s, {}, std::move(argv));
}

boost::asio::awaitable<redis_result> redis_client::script(const lua_script& s,
                                                          std::vector<std::string> keys,
                                                          std::vector<std::string> argv) {
    std::vector<std::string> cmd;
    cmd.reserve(keys.size() + argv.size() + 3);
    cmd.emplace_back("EVALSHA");
    cmd.push_back(s.sha1);
    cmd.push_back(std::to_string(keys.size()));
    // Moved, not copied (an audit payload is one of them), and formatted here, so that the
    // rare NOSCRIPT retry below still has them.
    for (auto* v : {&keys, &argv})
        cmd.insert(cmd.end(), std::make_move_iterator(v->begin()),
                   std::make_move_iterator(v->end()));
    if (cluster_) {
        std::vector<std::vector<std::string>> one;
        one.push_back(std::move(cmd));
        auto r = single(co_await cluster_run(one));
        if (r.error || !r.reply.is_error() || !r.reply.str.starts_with("NOSCRIPT"))
            co_return r;
        // A node that never ran it (new, restarted, or a replica just promoted).
        one[0][0] = "EVAL";
        one[0][1] = s.source;
        co_return single(co_await cluster_run(one));
    }
    auto conn = co_await connection();
    std::string payload;
    append_command(payload, cmd);
    auto r = co_await conn->exec_formatted(std::move(payload));
    if (r.error || !r.reply.is_error() || !r.reply.str.starts_with("NOSCRIPT"))
        co_return r;
    // Redis restarted or its script cache was flushed: EVAL also caches the script again.
    cmd[0] = "EVAL";
    cmd[1] = s.source;
    co_return co_await conn->exec(std::move(cmd));
}

boost::asio::awaitable<bool> redis_client::ping() {
    if (cluster_) {
        std::vector<std::vector<std::string>> one{{"PING"}};
        auto r = single(co_await cluster_run(one));
        co_return !r.error && r.reply.is_status() && r.reply.str == "PONG";
    }
    auto conn = co_await connection();
    co_return co_await conn->ping();
}

boost::asio::awaitable<std::vector<redis_endpoint>> redis_client::scan_nodes() {
    std::vector<redis_endpoint> out;
    if (!cluster_) {
        out.push_back({url_.host, url_.port});
        co_return out;
    }
    out = known_primaries();
    if (out.empty()) {
        const bool found =
            co_await refresh_map(std::chrono::steady_clock::now() + opt_.command_timeout);
        if (found)
            out = known_primaries();
    }
    co_return out;
}

boost::asio::awaitable<redis_result> redis_client::exec_at(redis_endpoint node,
                                                           std::vector<std::string> args) {
    auto ex = co_await boost::asio::this_coro::executor;
    auto conn = cluster_ ? connection_at(ex, node) : connection_for(ex);
    co_return co_await conn->exec(std::move(args));
}

boost::system::error_code failure_of(const redis_result& r) {
    if (r.error)
        return r.error;
    if (!r.reply.is_error())
        return {};
    // REGRESSION (RedisFaults.KilledAndRestartedRedisUnderLoad): an append answered `LOADING`
    // by a Redis reading its AOF back counted as refused and was not retried; its audit
    // record was lost.
    static constexpr std::string_view transient[] = {
        "LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"};
    for (const auto prefix : transient) {
        if (r.reply.str.starts_with(prefix))
            return make_error_code(redis_errc::not_ready);
    }
    if (r.reply.str.starts_with("MOVED ") || r.reply.str.starts_with("ASK ") ||
        r.reply.str.starts_with("CROSSSLOT"))
        return make_error_code(redis_errc::cluster_redirect);
    return make_error_code(redis_errc::protocol_error);
}

}  // namespace ditto::store::redis

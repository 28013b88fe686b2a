// redis_client in a Redis Cluster (docs/redis.md, "Redis Cluster"): each command goes to the
// primary of its key's slot over this executor's connection to that primary. A `MOVED` reply
// moves the slot in the shared map and the command is sent again; `ASK` sends `ASKING` and the
// command to the named node once; `TRYAGAIN` (a multi-key command while its slot migrates)
// waits a moment and sends it again. All of it within the command's one deadline.

#include "redis_client_cluster.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ditto/log/log.hpp"

namespace ditto::store::redis {
namespace net = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// This thread's routes for the last Cluster client used on it: its map and its connection to
// each primary of that map, by index. Rebuilt when the map changes.
struct cluster_routes {
    std::uint64_t client = 0;
    const void* context = nullptr;
    std::uint64_t generation = 0;
    std::uint64_t version = 0;
    std::shared_ptr<const cluster_map> map;
    std::vector<std::shared_ptr<redis_connection>> conns;
};
thread_local cluster_routes routes;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch())
        .count();
}

// Errors after which the node may be gone (a fail-over, a node removed): the map is read again.
// Not a timeout: the deadline is spent, and a refresh would only run out of it.
bool node_lost(const boost::system::error_code& ec) {
    return ec == net::error::not_connected || ec == net::error::connection_refused ||
           ec == net::error::connection_reset || ec == net::error::host_unreachable ||
           ec == net::error::network_unreachable ||
           ec == make_error_code(redis_errc::connection_lost);
}

// Holds the store's one refresh slot for as long as it lives.
struct refresh_turn {
    std::atomic<bool>& flag;
    bool held = false;
    explicit refresh_turn(std::atomic<bool>& f) : flag(f) {
        bool expected = false;
        held = flag.compare_exchange_strong(expected, true, std::memory_order_acq_rel);
    }
    ~refresh_turn() {
        if (held)
            flag.store(false, std::memory_order_release);
    }
    refresh_turn(const refresh_turn&) = delete;
    refresh_turn& operator=(const refresh_turn&) = delete;
};

// Below this, a redirected command is not sent again: it times out instead.
constexpr auto min_hop_budget = std::chrono::milliseconds(5);

bool is_multi(const std::vector<std::vector<std::string>>& commands) {
    const auto& verb = commands.front().front();
    return verb.size() == 5 && (verb == "MULTI" || verb == "multi");
}

struct hop {
    std::string payload;
    std::size_t count = 0;
};

// The commands in RESP; after ASK each preceded by ASKING, or a transaction by one ASKING (the
// flag lasts until EXEC there, and an ASKING queued inside MULTI would answer within EXEC).
hop format_hop(const std::vector<std::vector<std::string>>& commands, bool asked,
               bool transaction) {
    static const std::vector<std::string> asking{"ASKING"};
    hop h;
    if (asked && transaction) {
        append_command(h.payload, asking);
        ++h.count;
    }
    for (const auto& c : commands) {
        if (asked && !transaction) {
            append_command(h.payload, asking);
            ++h.count;
        }
        append_command(h.payload, c);
        ++h.count;
    }
    return h;
}

// Drops the +OK of the ASKING that format_hop() added.
void drop_asking(std::vector<redis_reply>& replies, bool asked, bool transaction) {
    if (!asked || replies.empty())
        return;
    if (transaction) {
        replies.erase(replies.begin());
        return;
    }
    std::vector<redis_reply> kept;
    kept.reserve(replies.size() / 2);
    for (std::size_t i = 1; i < replies.size(); i += 2)
        kept.push_back(std::move(replies[i]));
    replies = std::move(kept);
}

struct verdict {
    std::optional<cluster_redirect> redirect;  ///< the first MOVED or ASK among the replies
    bool again = false;                        ///< TRYAGAIN before any redirection
};

verdict read_verdict(const std::vector<redis_reply>& replies, const redis_endpoint& at) {
    verdict v;
    for (const auto& rep : replies) {
        if (!rep.is_error())
            continue;
        v.redirect = parse_redirect(rep, at);
        v.again = rep.str.starts_with("TRYAGAIN");
        if (v.redirect || v.again)
            break;
    }
    return v;
}

}  // namespace

void forget_cluster_routes(std::uint64_t client) {
    if (routes.client == client)
        routes = {};
}

redis_url redis_client::node_url(const redis_endpoint& node) const {
    redis_url u = url_;
    u.host = node.host;
    u.port = node.port;
    u.db = 0;
    u.cluster_seeds.clear();
    // Azure's clustered caches announce their nodes by IP address, with certificates for the
    // cache's DNS name: check a node reached by IP against the name the URL was given.
    boost::system::error_code node_not_ip;
    boost::system::error_code seed_not_ip;
    net::ip::make_address(node.host, node_not_ip);
    net::ip::make_address(url_.host, seed_not_ip);
    if (u.tls && !node_not_ip && seed_not_ip)
        u.tls_name = url_.host;
    return u;
}

std::vector<redis_endpoint> redis_client::known_primaries() const {
    std::shared_ptr<const cluster_map> map;
    {
        const std::lock_guard<std::mutex> lock(cluster_->mu);
        map = cluster_->map;
    }
    std::vector<redis_endpoint> out;
    if (!map)
        return out;
    // Only those that serve a slot: a MOVED leaves the old owner listed.
    std::vector<bool> serves(map->primaries.size(), false);
    for (const auto idx : map->owner) {
        if (idx != cluster_map::unowned)
            serves[idx] = true;
    }
    for (std::size_t i = 0; i < serves.size(); ++i) {
        if (serves[i])
            out.push_back(map->primaries[i]);
    }
    return out;
}

std::shared_ptr<redis_connection> redis_client::route(const net::any_io_executor& ex,
                                                      std::uint16_t slot, redis_endpoint& at) {
    const void* ctx = &net::query(ex, net::execution::context);
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    auto& r = routes;
    if (r.client != id_ || r.context != ctx || r.generation != generation ||
        r.version != cluster_->version.load(std::memory_order_acquire)) {
        std::shared_ptr<const cluster_map> map;
        std::uint64_t version = 0;
        {
            const std::lock_guard<std::mutex> lock(cluster_->mu);
            map = cluster_->map;
            version = cluster_->version.load(std::memory_order_acquire);
        }
        r = {id_, ctx, generation, version, map, {}};
        if (map)
            r.conns.resize(map->primaries.size());
    }
    if (!r.map)
        return nullptr;
    const std::uint16_t idx = r.map->owner[slot];
    if (idx == cluster_map::unowned)
        return nullptr;
    at = r.map->primaries[idx];
    if (!r.conns[idx])
        r.conns[idx] = connection_at(ex, at);
    return r.conns[idx];
}

// Not in a coroutine: locks must not live in a coroutine frame (GCC 12 mishandles them there).
void redis_client::install_map(cluster_map map) {
    const std::lock_guard<std::mutex> lock(cluster_->mu);
    cluster_->map = std::make_shared<const cluster_map>(std::move(map));
    cluster_->version.fetch_add(1, std::memory_order_acq_rel);
}

void redis_client::patch_map(std::uint16_t slot, const redis_endpoint& to) {
    const std::lock_guard<std::mutex> lock(cluster_->mu);
    const auto& now = cluster_->map;
    if (now && now->owner[slot] != cluster_map::unowned &&
        now->primaries[now->owner[slot]].host == to.host &&
        now->primaries[now->owner[slot]].port == to.port)
        return;  // another request got the same MOVED first
    auto next = now ? std::make_shared<cluster_map>(*now) : std::make_shared<cluster_map>();
    next->owner[slot] = next->index_of(to);
    cluster_->map = std::move(next);
    cluster_->version.fetch_add(1, std::memory_order_acq_rel);
}

net::awaitable<bool> redis_client::refresh_map(redis_deadline until) {
    const refresh_turn turn(cluster_->refreshing);
    if (!turn.held)
        co_return false;  // another one is at it; the caller routes by the map it has
    cluster_->last_refresh_ms.store(now_ms(), std::memory_order_relaxed);
    auto ex = co_await net::this_coro::executor;
    // The primaries known, then the seeds of the URL: after a fail-over some of either answer.
    std::vector<redis_endpoint> nodes = known_primaries();
    for (const auto& seed : url_.cluster_seeds) {
        if (std::none_of(nodes.begin(), nodes.end(), [&seed](const redis_endpoint& n) {
                return n.host == seed.host && n.port == seed.port;
            }))
            nodes.push_back(seed);
    }
    const std::size_t first = cluster_->next_node.fetch_add(1, std::memory_order_relaxed);
    std::string problem = "no node answered";
    for (std::size_t i = 0; i < nodes.size() && clock::now() < until; ++i) {
        const redis_endpoint node = nodes[(first + i) % nodes.size()];
        auto conn = connection_at(ex, node);
        std::vector<std::string> shards{"CLUSTER", "SHARDS"};
        auto r = co_await conn->exec(std::move(shards), until);
        if (r.error) {
            problem = r.error.message();
            continue;
        }
        std::optional<cluster_map> map;
        if (r.reply.is_error() &&
            r.reply.str.find("cluster support disabled") == std::string::npos) {
            // Before Redis 7 (or a service that offers only the older command).
            std::vector<std::string> slots{"CLUSTER", "SLOTS"};
            r = co_await conn->exec(std::move(slots), until);
            if (r.error) {
                problem = r.error.message();
                continue;
            }
            map = parse_cluster_slots(r.reply, node, problem);
        } else {
            map = parse_cluster_shards(r.reply, node, url_.tls, problem);
        }
        if (!map)
            continue;
        if (map->primaries.empty()) {
            problem = "the cluster has no primary serving a slot";
            continue;
        }
        install_map(std::move(*map));
        co_return true;
    }
    log::warn("store.cluster_map", "could not read the Redis Cluster's slot map",
              {{"redis", url_.redacted()}, {"reason", problem}});
    co_return false;
}

net::awaitable<redis_pipeline_result> redis_client::cluster_run(
    const std::vector<std::vector<std::string>>& commands) {
    const redis_deadline until = clock::now() + opt_.command_timeout;
    redis_pipeline_result r;
    if (commands.empty())
        co_return r;
    auto ex = co_await net::this_coro::executor;
    const auto key = pipeline_key(commands);
    const std::uint16_t slot = key ? key_slot(*key) : home_slot_;
    const bool transaction = is_multi(commands);
    std::optional<redis_endpoint> ask;
    // Redirections are bounded besides the deadline (two nodes that each name the other, a
    // cluster mid-change, must not spin); TRYAGAIN only by the deadline.
    int redirects = 0;
    for (bool first = true;; first = false) {
        // A hop sent with next to no time left would time out once written, and that replaces
        // the connection every other request on it shares.
        if (!first && until - clock::now() < min_hop_budget)
            break;
        redis_endpoint at;
        std::shared_ptr<redis_connection> conn =
            ask ? connection_at(ex, *ask) : route(ex, slot, at);
        if (ask)
            at = *ask;
        if (!conn) {
            const bool found = co_await refresh_map(until);
            if (found)
                conn = route(ex, slot, at);
        }
        if (!conn) {
            // No owner known (another refresh is under way, or none answered): any node
            // answers MOVED for the slot, or CLUSTERDOWN when nobody serves it.
            at = redis_endpoint{url_.host, url_.port};
            conn = connection_at(ex, at);
        }
        const bool asked = ask.has_value();
        ask.reset();
        hop h = format_hop(commands, asked, transaction);
        r = co_await conn->exec_formatted_pipeline(std::move(h.payload), h.count, until);
        if (r.error) {
            const std::int64_t last = cluster_->last_refresh_ms.load(std::memory_order_relaxed);
            if (node_lost(r.error) && now_ms() - last >= 1000)
                co_await refresh_map(until);
            co_return r;
        }
        drop_asking(r.replies, asked, transaction);
        const verdict v = read_verdict(r.replies, at);
        if (v.redirect) {
            if (!v.redirect->ask)
                patch_map(v.redirect->slot, v.redirect->to);
            // A pipeline of single-key commands on several slots (a cache purge's batch): the
            // commands of the other slots are answered as they are, not sent again.
            if (v.redirect->slot != slot && !transaction)
                co_return r;
            if (++redirects > 16)
                break;
            if (v.redirect->ask)
                ask = v.redirect->to;
            continue;
        }
        if (!v.again)
            co_return r;
        // A slot being migrated holds some of the keys: they will all be on one side soon.
        net::steady_timer pause(ex);
        pause.expires_at(std::min(until, clock::now() + std::chrono::milliseconds(2)));
        auto [ec] = co_await pause.async_wait(net::as_tuple(net::use_awaitable));
        if (ec == net::error::operation_aborted) {
            r = {};
            r.error = ec;
            co_return r;
        }
    }
    r = {};
    r.error = net::error::timed_out;
    co_return r;
}

}  // namespace ditto::store::redis

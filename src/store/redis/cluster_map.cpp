#include "cluster_map.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ditto::store::redis {
namespace {

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis Cluster specifies it.
constexpr std::array<std::uint16_t, 256> crc16_table = [] {
    std::array<std::uint16_t, 256> t{};
    for (unsigned i = 0; i < 256; ++i) {
        auto crc = static_cast<std::uint16_t>(i << 8);
        for (int b = 0; b < 8; ++b)
            crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
        t[i] = crc;
    }
    return t;
}();

std::uint16_t crc16(std::string_view s) {
    std::uint16_t crc = 0;
    for (const char c : s)
        crc = static_cast<std::uint16_t>(
            (crc << 8) ^ crc16_table[((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xFF]);
    return crc;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The commands the store sends that take no key. Anything else routes by its first argument.
bool keyless(std::string_view verb) {
    static constexpr std::string_view names[] = {
        "MULTI",  "EXEC", "DISCARD", "TIME",     "PING",     "SCAN",    "INFO",     "CLUSTER",
        "ASKING", "ROLE", "SCRIPT",  "AUTH",     "SELECT",   "HELLO",   "CLIENT",   "DBSIZE",
        "CONFIG", "WAIT", "ACL",     "SENTINEL", "FLUSHALL", "FLUSHDB", "READONLY", "COMMAND"};
    return std::any_of(std::begin(names), std::end(names),
                       [verb](std::string_view n) { return iequals(verb, n); });
}

std::optional<std::uint16_t> to_port(long long v) {
    if (v <= 0 || v > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

// One node of a CLUSTER SHARDS reply: a flat list of field, value.
struct shard_node {
    std::string endpoint, ip, role, health;
    long long port = 0, tls_port = 0;
};

shard_node read_node(const redis_reply& r) {
    shard_node n;
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
        const auto field = r.elements[i].as_string().value_or("");
        const auto& v = r.elements[i + 1];
        const std::string text(v.as_string().value_or(""));
        if (field == "endpoint")
            n.endpoint = text;
        else if (field == "ip")
            n.ip = text;
        else if (field == "role")
            n.role = text;
        else if (field == "health")
            n.health = text;
        else if (field == "port")
            n.port = v.as_int().value_or(0);
        else if (field == "tls-port")
            n.tls_port = v.as_int().value_or(0);
    }
    return n;
}

// `?` or empty: the node does not know its address; it is the one we asked.
std::string host_or(const std::string& host, const redis_endpoint& asked) {
    return host.empty() || host == "?" ? asked.host : host;
}

// Gives slots [lo, hi] of a reply to primary `idx`; false when the range is not one.
bool assign_range(cluster_map& map, const redis_reply& lo_reply, const redis_reply& hi_reply,
                  std::uint16_t idx) {
    const auto lo = lo_reply.as_int();
    const auto hi = hi_reply.as_int();
    if (!lo || !hi || *lo < 0 || *hi >= static_cast<long long>(cluster_slots) || *lo > *hi)
        return false;
    std::fill(map.owner.begin() + *lo, map.owner.begin() + *hi + 1, idx);
    return true;
}

// A map reply must be an array; `what` names the command in the error.
bool is_map_reply(const redis_reply& reply, const char* what, std::string& error) {
    if (reply.is_array())
        return true;
    error = std::string(what) +
            (reply.is_error() ? " refused: " + reply.str : std::string(": not an array"));
    return false;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) {
    const std::size_t open = key.find('{');
    if (open != std::string_view::npos) {
        const std::size_t close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1)
            key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<std::uint16_t>(crc16(key) & (cluster_slots - 1));
}

std::optional<std::string_view> command_key(const std::vector<std::string>& command) {
    if (command.size() < 2 || keyless(command[0]))
        return std::nullopt;
    const std::string_view verb = command[0];
    if (iequals(verb, "EVALSHA") || iequals(verb, "EVAL") || iequals(verb, "EVALSHA_RO") ||
        iequals(verb, "EVAL_RO") || iequals(verb, "FCALL")) {
        if (command.size() < 4 || command[2] == "0")
            return std::nullopt;
        return std::string_view(command[3]);
    }
    return std::string_view(command[1]);
}

std::optional<std::string_view> pipeline_key(
    const std::vector<std::vector<std::string>>& commands) {
    for (const auto& c : commands) {
        if (auto k = command_key(c))
            return k;
    }
    return std::nullopt;
}

std::uint16_t cluster_map::index_of(const redis_endpoint& ep) {
    for (std::size_t i = 0; i < primaries.size(); ++i) {
        if (primaries[i].host == ep.host && primaries[i].port == ep.port)
            return static_cast<std::uint16_t>(i);
    }
    primaries.push_back(ep);
    return static_cast<std::uint16_t>(primaries.size() - 1);
}

std::size_t cluster_map::unowned_slots() const {
    return static_cast<std::size_t>(std::count(owner.begin(), owner.end(), unowned));
}

std::optional<cluster_map> parse_cluster_shards(const redis_reply& reply,
                                                const redis_endpoint& asked, bool tls,
                                                std::string& error) {
    if (!is_map_reply(reply, "CLUSTER SHARDS", error))
        return std::nullopt;
    cluster_map map;
    for (const auto& shard : reply.elements) {
        const redis_reply* slots = nullptr;
        const redis_reply* nodes = nullptr;
        for (std::size_t i = 0; i + 1 < shard.elements.size(); i += 2) {
            const auto field = shard.elements[i].as_string().value_or("");
            if (field == "slots")
                slots = &shard.elements[i + 1];
            else if (field == "nodes")
                nodes = &shard.elements[i + 1];
        }
        if (!slots || !nodes) {
            error = "CLUSTER SHARDS: a shard without slots or nodes";
            return std::nullopt;
        }
        std::optional<redis_endpoint> primary;
        for (const auto& node : nodes->elements) {
            const shard_node n = read_node(node);
            if (n.role != "master" || (!n.health.empty() && n.health != "online"))
                continue;
            const auto port = to_port(tls && n.tls_port > 0 ? n.tls_port : n.port);
            if (!port)
                continue;
            // `?`: no preferred endpoint announced (cluster-preferred-endpoint-type unknown),
            // but its IP address may be known.
            const bool named = !n.endpoint.empty() && n.endpoint != "?";
            primary = redis_endpoint{host_or(named ? n.endpoint : n.ip, asked), *port};
        }
        if (!primary || slots->elements.empty())
            continue;  // a shard that lost its primary, or one that serves no slot yet
        const std::uint16_t idx = map.index_of(*primary);
        for (std::size_t i = 0; i + 1 < slots->elements.size(); i += 2) {
            if (!assign_range(map, slots->elements[i], slots->elements[i + 1], idx)) {
                error = "CLUSTER SHARDS: a bad slot range";
                return std::nullopt;
            }
        }
    }
    return map;
}

std::optional<cluster_map> parse_cluster_slots(const redis_reply& reply,
                                               const redis_endpoint& asked, std::string& error) {
    if (!is_map_reply(reply, "CLUSTER SLOTS", error))
        return std::nullopt;
    cluster_map map;
    for (const auto& range : reply.elements) {
        if (!range.is_array() || range.elements.size() < 3 || !range.elements[2].is_array() ||
            range.elements[2].elements.size() < 2) {
            error = "CLUSTER SLOTS: a bad slot range";
            return std::nullopt;
        }
        const auto& node = range.elements[2];
        const auto port = to_port(node.elements[1].as_int().value_or(0));
        const std::string host(node.elements[0].as_string().value_or(""));
        if (!port || !assign_range(map, range.elements[0], range.elements[1],
                                   map.index_of({host_or(host, asked), *port}))) {
            error = "CLUSTER SLOTS: a bad slot range";
            return std::nullopt;
        }
    }
    return map;
}

std::optional<cluster_redirect> parse_redirect(const redis_reply& reply,
                                               const redis_endpoint& asked) {
    if (!reply.is_error())
        return std::nullopt;
    std::string_view s = reply.str;
    cluster_redirect out;
    if (s.starts_with("ASK "))
        out.ask = true;
    else if (!s.starts_with("MOVED "))
        return std::nullopt;
    s.remove_prefix(out.ask ? 4 : 6);
    const std::size_t space = s.find(' ');
    const std::size_t colon = s.rfind(':');
    if (space == std::string_view::npos || colon == std::string_view::npos || colon < space)
        return std::nullopt;
    unsigned slot = 0;
    unsigned port = 0;
    const std::string_view slot_text = s.substr(0, space);
    const std::string_view port_text = s.substr(colon + 1);
    if (std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot).ec !=
            std::errc{} ||
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec !=
            std::errc{} ||
        slot >= cluster_slots || port == 0 || port > 65535)
        return std::nullopt;
    out.slot = static_cast<std::uint16_t>(slot);
    std::string host(s.substr(space + 1, colon - space - 1));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    out.to = {host.empty() || host == "?" ? asked.host : std::move(host),
              static_cast<std::uint16_t>(port)};
    return out;
}

}  // namespace ditto::store::redis

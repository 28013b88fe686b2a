#include "ditto/log/log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "ditto/core/hash.hpp"

namespace ditto::log {
namespace {

struct state {
    std::shared_ptr<spdlog::logger> logger;
    bool json = false;
    filters filter;
};

bool sampled_out(const state& s, level lvl, std::string_view identity) {
    const double rate = s.filter.json_rate;
    if (rate >= 1.0 || lvl >= level::warn)
        return false;
    if (rate <= 0.0)
        return true;
    std::string key = "json_logs|";
    key.append(identity);
    const auto threshold = static_cast<std::uint64_t>(
        rate * static_cast<double>(std::numeric_limits<std::uint64_t>::max()));
    return core::fnv1a64(key) > threshold;
}

state& global() {
    static state s;
    return s;
}

spdlog::level::level_enum to_spdlog(level lvl) {
    switch (lvl) {
        case level::trace:
            return spdlog::level::trace;
        case level::debug:
            return spdlog::level::debug;
        case level::info:
            return spdlog::level::info;
        case level::warn:
            return spdlog::level::warn;
        case level::error:
            return spdlog::level::err;
        case level::off:
            return spdlog::level::off;
    }
    return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> logger() {
    auto& s = global();
    if (!s.logger) {
        // Before init (unit tests, early start-up errors): a synchronous stderr logger.
        s.logger = std::make_shared<spdlog::logger>(
            "ditto", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        s.logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    }
    return s.logger;
}

}  // namespace

bool parse_level(std::string_view text, level& out) {
    static constexpr std::pair<std::string_view, level> names[] = {
        {"trace", level::trace}, {"debug", level::debug}, {"info", level::info},
        {"warn", level::warn},   {"error", level::error}, {"off", level::off}};
    for (const auto& [name, lvl] : names) {
        if (text == name) {
            out = lvl;
            return true;
        }
    }
    return false;
}

void init(level lvl, bool json) {
    auto& s = global();
    // 8192 queued lines; when the writer falls behind the oldest are dropped rather than
    // blocking a worker thread on stderr.
    spdlog::init_thread_pool(8192, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s.logger = std::make_shared<spdlog::async_logger>(
        "ditto", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    s.json = json;
    if (json) {
        s.logger->set_pattern("%v");
    } else {
        s.logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    }
    s.logger->set_level(to_spdlog(lvl));
    s.logger->flush_on(spdlog::level::warn);
}

void set_filters(filters f) {
    global().filter = std::move(f);
}

void flush() {
    auto& s = global();
    if (s.logger)
        s.logger->flush();
}

void shutdown() {
    auto& s = global();
    if (s.logger)
        s.logger->flush();
    // The thread pool first: its destructor writes what is queued and joins the writer thread,
    // which drops the queued lines' references to the logger. The logger is then freed here,
    // after the join, instead of on the writer thread (a free that ThreadSanitizer reports as
    // a race, since Debian's libspdlog is not instrumented).
    spdlog::shutdown();
    s.logger.reset();
}

bool enabled(level lvl) {
    return logger()->should_log(to_spdlog(lvl));
}

void event(level lvl, std::string_view name, std::string_view message,
           std::initializer_list<field> fields) {
    auto lg = logger();
    const auto spd = to_spdlog(lvl);
    if (!lg->should_log(spd))
        return;
    const auto& st = global();
    auto value = [&st](std::string_view key, std::string_view v) {
        return st.filter.redact ? st.filter.redact(key, v) : std::string(v);
    };
    if (st.json) {
        nlohmann::ordered_json payload = nlohmann::ordered_json::object();
        std::string_view identity;
        if (!message.empty())
            payload["message"] = value("message", message);
        for (const auto& f : fields) {
            payload[std::string(f.key)] = value(f.key, f.value);
            if (f.key == "request_id")
                identity = f.value;
        }
        // Only request events are sampled: start-up, shutdown and store events always go out.
        if (st.filter.json_rate < 1.0 && !identity.empty() && sampled_out(st, lvl, identity))
            return;
        const auto ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        // ordered_json: the SPEC's field order, ts_ms first, so lines sort and grep well.
        nlohmann::ordered_json line = {{"ts_ms", ts_ms}, {"event", name}, {"payload", payload}};
        // `replace` keeps a line valid JSON even if some value is not UTF-8.
        lg->log(spd, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return;
    }
    std::string text;
    text.reserve(name.size() + message.size() + 64);
    text.append(name).append(": ").append(value("message", message));
    for (const auto& f : fields) {
        text.append(" ").append(f.key).append("=").append(value(f.key, f.value));
    }
    lg->log(spd, text);
}

}  // namespace ditto::log

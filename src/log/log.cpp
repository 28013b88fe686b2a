#include "ditto/log/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "ditto/core/hash.hpp"
#include "ditto/log/batch_writer.hpp"
#include "ditto/log/line_format.hpp"

namespace ditto::log {
namespace {

// Set before the workers start (init, set_filters) and read-only afterwards, but for the level.
struct state {
    std::atomic<level> threshold{level::info};
    bool json = false;
    filters filter;
    std::unique_ptr<batch_writer> writer;  ///< null before init and after shutdown
};

state& global() {
    static state s;
    return s;
}

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

// spdlog's names, which the plain lines have always used.
std::string_view level_name(level lvl) {
    switch (lvl) {
        case level::trace:
            return "trace";
        case level::debug:
            return "debug";
        case level::info:
            return "info";
        case level::warn:
            return "warning";
        case level::error:
            return "error";
        case level::off:
            break;
    }
    return "off";
}

// True when some value of the event may need the redactor. The common case (no secret field
// name, no regex match in any value) costs one scan of the values, not a call per field.
bool needs_redaction(const filters& f, std::string_view message,
                     std::initializer_list<field> fields) {
    if (!f.redact)
        return false;
    if (!f.secret_name || !f.may_match)
        return true;
    for (const auto& fl : fields) {
        if (f.secret_name(fl.key))
            return true;
    }
    thread_local std::string joined;
    joined.assign(message);
    for (const auto& fl : fields) {
        joined += '\n';
        joined.append(fl.value);
    }
    return f.may_match(joined);
}

// Before init (unit tests, early start-up errors) and after shutdown: written at once.
void write_now(std::string_view line) {
    static std::mutex m;
    std::lock_guard lk(m);
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(2, line.data() + done, line.size() - done);
        if (n <= 0)
            return;
        done += static_cast<std::size_t>(n);
    }
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
    // A closed stderr (a log pipe whose reader went away) must cost the lines, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    s.threshold = lvl;
    s.json = json;
    s.writer = std::make_unique<batch_writer>(batch_writer::options{});
}

void set_filters(filters f) {
    global().filter = std::move(f);
}

void flush() {
    auto& s = global();
    if (s.writer)
        s.writer->flush();
}

void shutdown() {
    // The destructor writes what is queued and joins the writer thread.
    global().writer.reset();
}

bool enabled(level lvl) {
    const level t = global().threshold.load(std::memory_order_relaxed);
    return lvl != level::off && t != level::off && lvl >= t;
}

void event(level lvl, std::string_view name, std::string_view message,
           std::initializer_list<field> fields) {
    if (!enabled(lvl))
        return;
    const auto& st = global();

    // The values to write: as given, or (rarely) the redactor's copies.
    thread_local std::vector<std::string_view> values;
    thread_local std::vector<std::string> redacted;
    values.clear();
    values.push_back(message);
    for (const auto& f : fields)
        values.push_back(f.value);
    if (needs_redaction(st.filter, message, fields)) {
        redacted.clear();
        redacted.push_back(st.filter.redact("message", message));
        for (const auto& f : fields)
            redacted.push_back(st.filter.redact(f.key, f.value));
        for (std::size_t i = 0; i < redacted.size(); ++i)
            values[i] = redacted[i];
    }

    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    thread_local std::string line;
    line.clear();
    if (st.json) {
        std::string_view identity;
        for (const auto& f : fields) {
            if (f.key == "request_id") {
                identity = f.value;
                break;
            }
        }
        // Only request events are sampled: start-up, shutdown and store events always go out.
        if (st.filter.json_rate < 1.0 && !identity.empty() && sampled_out(st, lvl, identity))
            return;
        // The field order of docs/cli.md (`--json-logs`), ts_ms first, so lines sort and grep well.
        line += R"({"ts_ms":)";
        append_uint(line, static_cast<std::uint64_t>(now_ms));
        line += R"(,"event":)";
        append_json_value(line, name);
        line += R"(,"payload":{)";
        bool first = true;
        if (!message.empty()) {
            line += R"("message":)";
            append_json_value(line, values[0]);
            first = false;
        }
        std::size_t i = 1;
        for (const auto& f : fields) {
            if (!first)
                line += ',';
            first = false;
            append_json_value(line, f.key);
            line += ':';
            append_json_value(line, values[i++]);
        }
        line += "}}\n";
    } else {
        append_utc_timestamp(line, now_ms);
        line += ' ';
        line += level_name(lvl);
        line += ' ';
        append_plain_text(line, name);
        line += ": ";
        append_plain_text(line, values[0]);
        std::size_t i = 1;
        for (const auto& f : fields) {
            line += ' ';
            append_plain_text(line, f.key);
            line += '=';
            append_plain_value(line, values[i++]);
        }
        line += '\n';
    }
    if (st.writer)
        st.writer->append(line, lvl >= level::warn);
    else
        write_now(line);
}

}  // namespace ditto::log

#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ditto::log {

enum class level { trace, debug, info, warn, error, off };

/// Parses `trace|debug|info|warn|error|off`; false when unknown.
bool parse_level(std::string_view text, level& out);

/// One structured field of an event. Values are strings: the JSON sink escapes them.
struct field {
    std::string_view key;
    std::string value;
};

/// Sets up the process logger: stderr, plain text or one JSON object per line
/// (`{"ts_ms","event","payload"}`), written by a background thread whose queue drops the
/// oldest lines when full, so a worker never blocks on logging. Call once, before workers.
void init(level lvl, bool json);

/// What every event goes through (SPEC §1.4, docs/observability.md). Set once, before the
/// workers start.
struct filters {
    /// Returns the value to write for field `name` (redaction); empty: values as they are.
    std::function<std::string(std::string_view name, std::string_view value)> redact;
    /// Request events (those with a request_id field) at info and below, in JSON, are written
    /// when fnv1a64("json_logs|" + request_id) falls under rate·2^64; other lines, warnings
    /// and errors always are.
    double json_rate = 1.0;
};
void set_filters(filters f);

/// Flushes and stops the background writer (call at exit).
/// Writes what is queued now rather than when the queue fills (events below warn wait).
void flush();
void shutdown();

/// True when `lvl` would be written; lets callers skip building fields.
bool enabled(level lvl);

/// Writes one event. Thread-safe.
void event(level lvl, std::string_view name, std::string_view message,
           std::initializer_list<field> fields = {});

inline void info(std::string_view name, std::string_view message,
                 std::initializer_list<field> fields = {}) {
    event(level::info, name, message, fields);
}
inline void warn(std::string_view name, std::string_view message,
                 std::initializer_list<field> fields = {}) {
    event(level::warn, name, message, fields);
}
inline void error(std::string_view name, std::string_view message,
                  std::initializer_list<field> fields = {}) {
    event(level::error, name, message, fields);
}
inline void debug(std::string_view name, std::string_view message,
                  std::initializer_list<field> fields = {}) {
    event(level::debug, name, message, fields);
}

}  // namespace ditto::log

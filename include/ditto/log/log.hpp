#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ditto::log {

enum class level { trace, debug, info, warn, error, off };

/// Parses `trace|debug|info|warn|error|off`; false when unknown.
bool parse_level(std::string_view text, level& out);

/// One structured field of an event. A view: the event is formatted before the call returns,
/// so a temporary (`std::to_string(n)`) in the field list lives long enough.
struct field {
    std::string_view key;
    std::string_view value;
};

/// Sets up the process logger: stderr, plain text (`TS level name: message key=value …`) or
/// one JSON object per line (`{"ts_ms","event","payload"}`). Lines are formatted on the calling
/// thread and written in batches by a background thread (batch_writer.hpp), so a worker never
/// blocks on stderr. Call once, before workers.
void init(level lvl, bool json);

/// What every event goes through (docs/observability.md, "Redaction" and "Sampling"). Set once,
/// before the workers start.
struct filters {
    /// Returns the value to write for field `name` (redaction); empty: values as they are.
    std::function<std::string(std::string_view name, std::string_view value)> redact;
    /// Optional, both or neither: the cheap test that spares `redact` in the common case. An
    /// event goes through `redact` only when a field name is secret or `may_match` is true
    /// for its message and values joined by '\n'.
    std::function<bool(std::string_view name)> secret_name;
    std::function<bool(std::string_view joined_values)> may_match;
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

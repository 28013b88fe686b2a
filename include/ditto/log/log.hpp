#pragma once

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

/// Flushes and stops the background writer (call at exit).
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

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::core {

/// Builds one flat JSON object by appending, for records written on the hot path (audit
/// payloads) where a DOM would cost more than the record. Keys are trusted literals.
class json_object_writer {
  public:
    json_object_writer();
    json_object_writer& str(std::string_view key, std::string_view value);
    /// null when `value` is empty.
    json_object_writer& str_or_null(std::string_view key, const std::optional<std::string>& value);
    json_object_writer& num(std::string_view key, std::uint64_t value);
    json_object_writer& num_or_null(std::string_view key,
                                    const std::optional<std::uint64_t>& value);
    json_object_writer& boolean(std::string_view key, bool value);
    /// `value` must already be JSON (an array or object built elsewhere).
    json_object_writer& raw(std::string_view key, std::string_view value);
    /// The object, closed. The writer is spent afterwards.
    std::string finish();

  private:
    void key(std::string_view k);
    std::string out_;
};

}  // namespace ditto::core

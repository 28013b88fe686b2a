#pragma once

// Appends nested JSON (the dialect translations build whole request and answer bodies).
// json_object_writer stays for flat hot-path records; this one tracks nesting and commas.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::core {

class json_node;

class json_builder {
  public:
    explicit json_builder(std::size_t reserve = 256) { out_.reserve(reserve); }

    json_builder& begin_object();
    json_builder& end_object();
    json_builder& begin_array();
    json_builder& end_array();
    /// A member name; the next value call is its value. Keys are escaped like strings.
    json_builder& key(std::string_view k);

    json_builder& string(std::string_view v);
    json_builder& number(std::uint64_t v);
    json_builder& number(std::int64_t v);
    json_builder& number(double v);  ///< shortest round-trip form; non-finite as null
    json_builder& boolean(bool v);
    json_builder& null();
    /// `json` must be one valid JSON value (copied as is).
    json_builder& raw(std::string_view json);
    /// A parsed value written back (compact; numbers as parsed, strings re-escaped).
    json_builder& node(const json_node& n);

    /// Shorthands for a member: key(k) then the value.
    json_builder& member(std::string_view k, std::string_view v) { return key(k).string(v); }
    json_builder& member(std::string_view k, const char* v) { return key(k).string(v); }
    json_builder& member(std::string_view k, std::uint64_t v) { return key(k).number(v); }
    json_builder& member(std::string_view k, bool v) { return key(k).boolean(v); }

    const std::string& str() const { return out_; }
    /// The text; the builder is spent afterwards.
    std::string take() { return std::move(out_); }

  private:
    void before_value();

    std::string out_;
    std::vector<bool> has_items_;  ///< per open container: a value was written
    bool after_key_ = false;
};

}  // namespace ditto::core

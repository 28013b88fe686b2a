#include "ditto/core/json_writer.hpp"

#include "ditto/core/json_scan.hpp"

namespace ditto::core {

json_object_writer::json_object_writer() {
    // An audit record is ~500 bytes: one allocation instead of a doubling series.
    out_.reserve(512);
    out_ += '{';
}

void json_object_writer::key(std::string_view k) {
    if (out_.size() > 1)
        out_ += ',';
    out_ += '"';
    out_ += k;
    out_ += "\":";
}

json_object_writer& json_object_writer::str(std::string_view k, std::string_view value) {
    key(k);
    json_quote_into(out_, value);
    return *this;
}

json_object_writer& json_object_writer::str_or_null(std::string_view k,
                                                    const std::optional<std::string>& value) {
    if (!value) {
        key(k);
        out_ += "null";
        return *this;
    }
    return str(k, *value);
}

json_object_writer& json_object_writer::num(std::string_view k, std::uint64_t value) {
    key(k);
    out_ += std::to_string(value);
    return *this;
}

json_object_writer& json_object_writer::num_or_null(std::string_view k,
                                                    const std::optional<std::uint64_t>& value) {
    if (!value) {
        key(k);
        out_ += "null";
        return *this;
    }
    return num(k, *value);
}

json_object_writer& json_object_writer::boolean(std::string_view k, bool value) {
    key(k);
    out_ += value ? "true" : "false";
    return *this;
}

json_object_writer& json_object_writer::raw(std::string_view k, std::string_view value) {
    key(k);
    out_ += value;
    return *this;
}

std::string json_object_writer::finish() {
    out_ += '}';
    return std::move(out_);
}

}  // namespace ditto::core

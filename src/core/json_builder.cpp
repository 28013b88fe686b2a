#include "ditto/core/json_builder.hpp"

#include <charconv>
#include <cmath>

#include "ditto/core/json_dom.hpp"
#include "ditto/core/json_scan.hpp"

namespace ditto::core {

void json_builder::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!has_items_.empty()) {
        if (has_items_.back())
            out_ += ',';
        has_items_.back() = true;
    }
}

json_builder& json_builder::begin_object() {
    before_value();
    out_ += '{';
    has_items_.push_back(false);
    return *this;
}

json_builder& json_builder::end_object() {
    out_ += '}';
    has_items_.pop_back();
    return *this;
}

json_builder& json_builder::begin_array() {
    before_value();
    out_ += '[';
    has_items_.push_back(false);
    return *this;
}

json_builder& json_builder::end_array() {
    out_ += ']';
    has_items_.pop_back();
    return *this;
}

json_builder& json_builder::key(std::string_view k) {
    before_value();
    json_quote_into(out_, k);
    out_ += ':';
    after_key_ = true;
    return *this;
}

json_builder& json_builder::string(std::string_view v) {
    before_value();
    json_quote_into(out_, v);
    return *this;
}

json_builder& json_builder::number(std::uint64_t v) {
    before_value();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    return *this;
}

json_builder& json_builder::number(std::int64_t v) {
    before_value();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    return *this;
}

json_builder& json_builder::number(double v) {
    before_value();
    if (!std::isfinite(v)) {
        out_ += "null";
        return *this;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    return *this;
}

json_builder& json_builder::boolean(bool v) {
    before_value();
    out_ += v ? "true" : "false";
    return *this;
}

json_builder& json_builder::null() {
    before_value();
    out_ += "null";
    return *this;
}

json_builder& json_builder::raw(std::string_view json) {
    before_value();
    out_ += json;
    return *this;
}

json_builder& json_builder::node(const json_node& n) {
    switch (n.type()) {
        case json_node::kind::null:
            return null();
        case json_node::kind::boolean:
            return boolean(n.boolean());
        case json_node::kind::string:
            return string(n.str());
        case json_node::kind::unsigned_int:
            return number(n.u64());
        case json_node::kind::signed_int:
            return number(n.i64());
        case json_node::kind::real:
            return number(n.f64());
        case json_node::kind::object:
            begin_object();
            for (const auto& m : n)
                key(m.key()).node(m);
            return end_object();
        case json_node::kind::array:
            begin_array();
            for (const auto& e : n)
                node(e);
            return end_array();
    }
    return *this;
}

}  // namespace ditto::core

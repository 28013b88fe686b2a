#pragma once

// Request bodies of the Admin API's changes: a JSON object, its members of the right type,
// or a 400 that says which one is wrong. Internal to the admin layer.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "routes.hpp"

namespace ditto::admin {

struct body_doc {
    nlohmann::json doc;
    std::optional<reply> error;  ///< set: answer with it
};

/// The body as a JSON object (an empty body is `{}` when `empty_ok`).
inline body_doc parse_object(const call& c, bool empty_ok = false) {
    body_doc b;
    b.doc = c.body.empty() && empty_ok ? nlohmann::json::object()
                                       : nlohmann::json::parse(c.body, nullptr, false);
    if (b.doc.is_discarded() || !b.doc.is_object())
        b.error = error_reply(c, 400, "invalid_request", "body must be a JSON object");
    return b;
}

/// An optional boolean member: its value (false when absent); a 400 in `b.error` when it is
/// there with another type.
inline bool optional_bool(const call& c, body_doc& b, const char* name) {
    auto it = b.doc.find(name);
    if (it == b.doc.end() || b.error)
        return false;
    if (!it->is_boolean()) {
        b.error = error_reply(c, 400, "invalid_request", std::string(name) + " must be a boolean");
        return false;
    }
    return it->get<bool>();
}

/// A required member of `type`; null (with a 400 in `b.error`) when missing or mistyped.
inline const nlohmann::json* required(const call& c, body_doc& b, const char* name,
                                      nlohmann::json::value_t type, const char* type_name) {
    if (b.error)
        return nullptr;
    auto it = b.doc.find(name);
    if (it == b.doc.end() || it->type() != type) {
        b.error = error_reply(c, 400, "invalid_request",
                              std::string(name) + " is required (" + type_name + ")");
        return nullptr;
    }
    return &*it;
}

}  // namespace ditto::admin

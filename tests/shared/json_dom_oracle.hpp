#pragma once

// json_dom against nlohmann, the parser it replaced for the config: the same text must be
// accepted by both or by neither, and read as the same values. Used by the unit test (fixed
// cases) and the config fuzz harness (everything libFuzzer finds).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "ditto/core/json_dom.hpp"

namespace ditto::test {

/// A json_dom value as nlohmann holds it: objects by name (the last of repeated names wins),
/// numbers with the same integer/unsigned/double type.
inline nlohmann::json to_nlohmann(const core::json_node& n) {
    using kind = core::json_node::kind;
    switch (n.type()) {
        case kind::null:
            return nullptr;
        case kind::boolean:
            return n.boolean();
        case kind::string:
            return std::string(n.str());
        case kind::unsigned_int:
            return n.u64();
        case kind::signed_int:
            return n.i64();
        case kind::real:
            return n.f64();
        case kind::object: {
            auto out = nlohmann::json::object();
            for (const auto& m : n)
                out[std::string(m.key())] = to_nlohmann(m);
            return out;
        }
        case kind::array: {
            auto out = nlohmann::json::array();
            for (const auto& e : n)
                out.push_back(to_nlohmann(e));
            return out;
        }
    }
    return nullptr;
}

/// Empty when both parsers agree on `text`; else what differs. Documents json_dom refuses by
/// design count as agreement: nesting past 512, and text after a NUL byte that follows the
/// value (nlohmann stops reading at the NUL and accepts).
inline std::optional<std::string> json_dom_disagreement(std::string_view text) {
    core::json_dom dom;
    const bool ours = dom.parse(text);
    nlohmann::json theirs;
    bool accepted = true;
    try {
        theirs = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception&) {
        accepted = false;
    }
    if (!ours && accepted && dom.error() == "nesting deeper than 512")
        return std::nullopt;
    if (!ours && accepted && text.find('\0') != std::string_view::npos &&
        dom.error() == "unexpected text after the value")
        return std::nullopt;
    if (ours != accepted)
        return std::string(ours ? "json_dom accepted, nlohmann refused"
                                : "nlohmann accepted, json_dom refused: " + dom.error());
    if (ours && to_nlohmann(dom.root()) != theirs)
        return "different values: " + to_nlohmann(dom.root()).dump() + " vs " + theirs.dump();
    return std::nullopt;
}

}  // namespace ditto::test

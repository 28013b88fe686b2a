#include "ditto/dialect/dialect.hpp"

#include "ditto/core/strings.hpp"
#include "translators.hpp"

namespace ditto::dialect {

std::string_view name(kind k) {
    switch (k) {
        case kind::openai:
            return "openai";
        case kind::responses:
            return "responses";
        case kind::anthropic:
            return "anthropic";
        case kind::gemini:
            return "gemini";
    }
    return "openai";
}

namespace {

std::string percent_decoded(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = core::hex_value(s[i + 1]);
            const int lo = core::hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

// `{prefix}{model}:{method}` → the Gemini front door; nullopt when `path` is not under prefix.
std::optional<front_door> gemini_door(std::string_view path, std::string_view prefix,
                                      bool whole_namespace) {
    if (!path.starts_with(prefix))
        return std::nullopt;
    const auto rest = path.substr(prefix.size());
    const auto colon = rest.rfind(':');
    front_door d;
    d.dialect = kind::gemini;
    if (colon == std::string_view::npos || colon == 0 ||
        rest.substr(0, colon).find('/') != std::string_view::npos) {
        if (!whole_namespace)
            return std::nullopt;
        d.served = false;
        return d;
    }
    const auto method = rest.substr(colon + 1);
    if (method == "generateContent") {
    } else if (method == "streamGenerateContent") {
        d.stream = true;
    } else if (method == "countTokens") {
        d.count_tokens = true;
    } else {
        if (!whole_namespace)
            return std::nullopt;
        d.served = false;
        return d;
    }
    d.model = percent_decoded(rest.substr(0, colon));
    return d;
}

}  // namespace

std::optional<front_door> match_front_door(std::string_view path) {
    if (path == "/v1/responses" || path == "/v1/responses/")
        return front_door{kind::responses};
    if (path == "/v1/messages" || path == "/v1/messages/count_tokens") {
        front_door d{kind::anthropic};
        d.count_tokens = path.ends_with("/count_tokens");
        return d;
    }
    if (path.starts_with("/v1/messages/")) {
        front_door d{kind::anthropic};
        d.served = false;
        return d;
    }
    // All of /v1beta is Gemini's; under /v1/models only the `:method` forms are (a plain
    // `/v1/models/{id}` is OpenAI's model lookup).
    if (auto d = gemini_door(path, "/v1beta/models/", true))
        return d;
    if (path.starts_with("/v1beta/") || path == "/v1beta") {
        front_door d{kind::gemini};
        d.served = false;
        return d;
    }
    return gemini_door(path, "/v1/models/", false);
}

std::optional<std::string> request_to_chat(kind k, std::string_view body, const request_context& rc,
                                           refusal& why) {
    switch (k) {
        case kind::responses:
            return responses::request_to_chat(body, why);
        case kind::anthropic:
            return anthropic::request_to_chat(body, why);
        case kind::gemini:
            return gemini::request_to_chat(body, rc, why);
        case kind::openai:
            break;
    }
    return std::string(body);
}

std::optional<std::string> answer_from_chat(kind k, std::string_view chat,
                                            const answer_context& ac) {
    switch (k) {
        case kind::responses:
            return responses::answer_from_chat(chat, ac);
        case kind::anthropic:
            return anthropic::answer_from_chat(chat, ac);
        case kind::gemini:
            return gemini::answer_from_chat(chat, ac);
        case kind::openai:
            break;
    }
    return std::string(chat);
}

std::unique_ptr<stream_translator> make_stream_translator(kind k, const answer_context& ac) {
    switch (k) {
        case kind::responses:
            return responses::make_stream(ac);
        case kind::anthropic:
            return anthropic::make_stream(ac);
        case kind::gemini:
            return gemini::make_stream(ac);
        case kind::openai:
            break;
    }
    return nullptr;
}

std::string error_from_openai(kind k, unsigned status, std::string_view openai_json) {
    switch (k) {
        case kind::anthropic:
            return anthropic::error_from_openai(status, openai_json);
        case kind::gemini:
            return gemini::error_from_openai(status, openai_json);
        case kind::openai:
        case kind::responses:
            break;
    }
    return std::string(openai_json);
}

}  // namespace ditto::dialect

#include "ditto/dialect/dialect.hpp"

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

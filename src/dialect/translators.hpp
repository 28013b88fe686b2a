#pragma once

// Each dialect's translations (one .cpp per dialect); dialect.cpp dispatches by kind.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ditto/dialect/dialect.hpp"

namespace ditto::dialect::responses {
std::optional<std::string> request_to_chat(std::string_view body, refusal& why);
std::optional<std::string> answer_from_chat(std::string_view chat, const answer_context& ac);
std::unique_ptr<stream_translator> make_stream(const answer_context& ac);
}  // namespace ditto::dialect::responses

namespace ditto::dialect::anthropic {
std::optional<std::string> request_to_chat(std::string_view body, refusal& why);
std::optional<std::string> answer_from_chat(std::string_view chat, const answer_context& ac);
std::unique_ptr<stream_translator> make_stream(const answer_context& ac);
std::string error_from_openai(unsigned status, std::string_view openai_json);
}  // namespace ditto::dialect::anthropic

namespace ditto::dialect::gemini {
std::optional<std::string> request_to_chat(std::string_view body, const request_context& rc,
                                           refusal& why);
std::optional<std::string> answer_from_chat(std::string_view chat, const answer_context& ac);
std::unique_ptr<stream_translator> make_stream(const answer_context& ac);
std::string error_from_openai(unsigned status, std::string_view openai_json);
}  // namespace ditto::dialect::gemini

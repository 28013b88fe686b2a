#include "translators.hpp"

// Not written yet (issue 20): every request is refused.
namespace ditto::dialect::anthropic {

std::optional<std::string> request_to_chat(std::string_view, refusal& why) {
    why.message = "the anthropic dialect is not available yet";
    return std::nullopt;
}
std::optional<std::string> answer_from_chat(std::string_view, const answer_context&) {
    return std::nullopt;
}
std::unique_ptr<stream_translator> make_stream(const answer_context&) {
    return nullptr;
}

}  // namespace ditto::dialect::anthropic

namespace ditto::dialect::anthropic {
std::string error_from_openai(unsigned, std::string_view openai_json) {
    return std::string(openai_json);
}
}  // namespace ditto::dialect::anthropic

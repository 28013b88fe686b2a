#include "translators.hpp"

// Not written yet (issue 20): every request is refused.
namespace ditto::dialect::gemini {

std::optional<std::string> request_to_chat(std::string_view, const request_context&, refusal& why) {
    why.message = "the gemini dialect is not available yet";
    return std::nullopt;
}
std::optional<std::string> answer_from_chat(std::string_view, const answer_context&) {
    return std::nullopt;
}
std::unique_ptr<stream_translator> make_stream(const answer_context&) {
    return nullptr;
}
std::string error_from_openai(unsigned, std::string_view openai_json) {
    return std::string(openai_json);
}

}  // namespace ditto::dialect::gemini

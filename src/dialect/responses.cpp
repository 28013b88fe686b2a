#include "translators.hpp"

// Not written yet (issue 20): every request is refused.
namespace ditto::dialect::responses {

std::optional<std::string> request_to_chat(std::string_view, refusal& why) {
    why.message = "the responses dialect is not available yet";
    return std::nullopt;
}
std::optional<std::string> answer_from_chat(std::string_view, const answer_context&) {
    return std::nullopt;
}
std::unique_ptr<stream_translator> make_stream(const answer_context&) {
    return nullptr;
}

}  // namespace ditto::dialect::responses

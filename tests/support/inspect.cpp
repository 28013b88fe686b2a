#include "support/inspect.hpp"

#include <fstream>

#include "support/http_client.hpp"

namespace ditto::test {
namespace {

std::uint64_t number_after(const std::string& text, const std::string& name, std::size_t from) {
    const auto at = text.find("\"" + name + "\":", from);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + name.size() + 3));
}

}  // namespace

std::optional<token_ledger> read_token_ledger(int port, const std::string& admin_token,
                                              const std::string& scope) {
    auto r = http_request(port, "GET", "/admin/budgets?key_prefix=" + scope, "",
                          {{"Authorization", "Bearer " + admin_token}});
    if (!r || r->status != 200)
        return std::nullopt;
    const auto at = r->body.find("{\"key_id\":\"" + scope + "\",");
    if (at == std::string::npos)
        return token_ledger{};
    return token_ledger{number_after(r->body, "spent_tokens", at),
                        number_after(r->body, "reserved_tokens", at)};
}

std::optional<double> prometheus_value(int port, const std::string& series) {
    auto r = http_request(port, "GET", "/metrics/prometheus");
    if (!r || r->status != 200)
        return std::nullopt;
    const auto& body = r->body;
    for (auto at = body.find(series + " "); at != std::string::npos;
         at = body.find(series + " ", at + 1)) {
        if (at == 0 || body[at - 1] == '\n')
            return std::stod(body.substr(at + series.size() + 1));
    }
    return std::nullopt;
}

long proc_status_kb(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0)
            return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

}  // namespace ditto::test

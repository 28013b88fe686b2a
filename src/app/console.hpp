#pragma once

// `/ui/`: the operator console (docs/console.md), served from the binary wherever the Admin
// API is mounted. Every action it takes goes through /admin/* with the operator's token, so
// it adds no authority of its own; these responses only carry the page and its files.

#include <string_view>

#include "ditto/http/message.hpp"

namespace ditto::app {

/// True for `/ui` and everything under `/ui/`.
bool is_console_path(std::string_view path);

/// The answer for a GET or HEAD of `path` (a console path): the file with its security
/// headers, 304 for a matching If-None-Match, a redirect from `/ui` to `/ui/`, else 404.
/// `sso_origin`: the identity provider's token endpoint origin, allowed in connect-src.
http::response serve_console(const http::request& req, std::string_view path,
                             std::string_view sso_origin = {});

}  // namespace ditto::app

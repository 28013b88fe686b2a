#pragma once

// The operator console's files (docs/console.md), compiled in by cmake/DittoConsole.cmake.

#include <string_view>
#include <vector>

namespace ditto::app {

struct console_asset {
    std::string_view path;          ///< relative to src/console/: "index.html", "vendor/…"
    std::string_view content_type;  ///< by extension
    std::string_view etag;          ///< quoted: "\"…\"", from the file's SHA-256
    std::string_view raw;
    std::string_view gzip;  ///< empty when compressing does not make it smaller
};

const std::vector<console_asset>& console_assets();

}  // namespace ditto::app

#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ditto::test {

/// A fresh directory under /tmp, removed with everything in it on destruction.
class temp_dir {
  public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    /// Writes `content` to `name` inside the directory and returns the full path.
    std::string write(std::string_view name, std::string_view content) const;

  private:
    std::filesystem::path path_;
};

}  // namespace ditto::test

// log::event before init writes synchronously to fd 2: captured here through a pipe to check
// the line and when the redactor runs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "ditto/log/log.hpp"

namespace ditto::log {
namespace {

// Runs `fn` with fd 2 pointed at a pipe; returns what it wrote.
template <typename Fn>
std::string capture_stderr(Fn fn) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    const int saved = ::dup(2);
    ::dup2(fds[1], 2);
    fn();
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    return out;
}

TEST(LogEvent, PlainLineEscapesClientValues) {
    set_filters({});
    const auto out = capture_stderr([] {
        info("proxy.response", "", {{"model", "m\r\nforged"}, {"status", std::to_string(200)}});
    });
    // One line: timestamp, level, name, then the fields.
    ASSERT_EQ(out.find('\n'), out.size() - 1) << out;
    EXPECT_NE(out.find(R"( info proxy.response:  model="m\r\nforged" status=200)"),
              std::string::npos)
        << out;
}

TEST(LogEvent, TheRedactorRunsOnlyWhenAValueOrNameMayNeedIt) {
    int calls = 0;
    filters f;
    f.redact = [&calls](std::string_view name, std::string_view value) {
        ++calls;
        return name == "authorization" || value.find("sk-") != std::string_view::npos
                   ? std::string("<redacted>")
                   : std::string(value);
    };
    f.secret_name = [](std::string_view name) { return name == "authorization"; };
    f.may_match = [](std::string_view joined) {
        return joined.find("sk-") != std::string_view::npos;
    };
    set_filters(f);
    auto out = capture_stderr([] { info("e", "m", {{"model", "gpt"}, {"path", "/v1"}}); });
    EXPECT_EQ(calls, 0);
    EXPECT_NE(out.find("model=gpt path=/v1"), std::string::npos) << out;

    out = capture_stderr([] { info("e", "m", {{"model", "sk-123"}, {"path", "/v1"}}); });
    EXPECT_EQ(calls, 3);  // the message and both fields
    EXPECT_NE(out.find("model=<redacted> path=/v1"), std::string::npos) << out;
    EXPECT_EQ(out.find("sk-123"), std::string::npos) << out;

    calls = 0;
    out = capture_stderr([] { info("e", "", {{"authorization", "Bearer x"}}); });
    EXPECT_EQ(calls, 2);
    EXPECT_NE(out.find("authorization=<redacted>"), std::string::npos) << out;
    set_filters({});
}

TEST(LogEvent, LevelsBelowTheThresholdAreSkipped) {
    set_filters({});
    const auto out = capture_stderr([] { debug("quiet", "not written"); });
    EXPECT_EQ(out, "");
    EXPECT_FALSE(enabled(level::debug));
    EXPECT_TRUE(enabled(level::info));
}

}  // namespace
}  // namespace ditto::log

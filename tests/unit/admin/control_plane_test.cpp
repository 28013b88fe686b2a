// The control plane's hand-off between a caller's event loop and the writer's. At shutdown
// the workers' event loops are destroyed while the writer still runs, so the writer must be
// able to say when it holds nothing of them any more (CI once caught ASan reporting a
// use-after-free there: the writer still held a tracked copy of a destroyed worker's
// executor a moment after answering it).

#include "ditto/admin/control_plane.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

namespace ditto::admin {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;

std::shared_ptr<control_plane> make_control_plane(net::io_context& writer) {
    control_plane::options o;
    o.base.backends.push_back({.name = "b", .base_url = "http://127.0.0.1:9/v1"});
    o.base.virtual_keys.push_back({.id = "k", .token = "vk-k"});
    o.live = std::make_shared<middleware::live_keys>(nullptr);
    o.writer = writer.get_executor();
    return std::make_shared<control_plane>(std::move(o));
}

control_plane::request rename_key(std::string id) {
    control_plane::request r;
    r.reason = "test";
    r.change = [id](std::vector<config::virtual_key_config>& keys,
                    config::router_config&) -> std::optional<admin_failure> {
        keys.front().id = id;
        return std::nullopt;
    };
    return r;
}

net::awaitable<void> ask(std::shared_ptr<control_plane> cp, std::string id,
                         std::shared_ptr<std::optional<control_plane::outcome>> got) {
    *got = co_await cp->mutate(rename_key(std::move(id)));
}

TEST(ControlPlane, IsIdleOnlyOnceTheAnswerIsHandedToTheCaller) {
    net::io_context writer;
    auto cp = make_control_plane(writer);
    EXPECT_TRUE(cp->wait_idle(milliseconds(0)));

    auto got = std::make_shared<std::optional<control_plane::outcome>>();
    {
        net::io_context worker;
        net::co_spawn(worker, ask(cp, "k2", got), net::detached);
        worker.poll();  // the caller asks; the change is queued on the writer
        EXPECT_FALSE(cp->wait_idle(milliseconds(0)));
        // The caller's loop keeps work while it waits for the answer (it would otherwise stop
        // before the answer comes).
        EXPECT_FALSE(worker.stopped());

        writer.run();  // the change runs and its answer is posted to the caller's loop
        EXPECT_TRUE(cp->wait_idle(milliseconds(0)));
        EXPECT_FALSE(got->has_value());  // posted, not run on the writer's thread

        worker.run();
        ASSERT_TRUE(got->has_value());
        EXPECT_FALSE((*got)->failure.has_value());
        ASSERT_TRUE((*got)->after);
        EXPECT_EQ(cp->current()->keys->front().id, "k2");
    }
}

TEST(ControlPlane, ACallerLoopDestroyedBeforeItsAnswerRanLosesNothingElse) {
    // A worker stopped while its change runs (shutdown): the writer finishes the change and
    // posts the answer to the stopped loop; once idle, the loop can be destroyed with the
    // answer still queued (ASan checks that nothing touches it afterwards).
    net::io_context writer;
    auto cp = make_control_plane(writer);
    auto got = std::make_shared<std::optional<control_plane::outcome>>();
    {
        net::io_context worker;
        net::co_spawn(worker, ask(cp, "k3", got), net::detached);
        worker.poll();
        worker.stop();
        writer.run();
        EXPECT_TRUE(cp->wait_idle(milliseconds(0)));
    }
    EXPECT_FALSE(got->has_value());
    EXPECT_EQ(cp->current()->keys->front().id, "k3");  // the change itself was applied
    writer.restart();
    writer.run();  // nothing left on the writer that refers to the destroyed loop
}

}  // namespace
}  // namespace ditto::admin

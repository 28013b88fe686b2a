#pragma once

// The Admin API's endpoints (docs/admin-api.md), one function per route, called
// by admin_api after authentication. Internal to the admin layer.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "ditto/admin/admin_api.hpp"
#include "ditto/admin/admin_tokens.hpp"
#include "ditto/admin/control_plane.hpp"
#include "ditto/http/message.hpp"

namespace ditto::admin {

/// One admin call: who, the query (decoded) and the body.
struct call {
    const http::request& req;
    principal who;
    std::map<std::string, std::string> query;
    std::string body;

    std::optional<std::string> param(const std::string& name) const;
    bool flag(const std::string& name) const;  ///< `true` or `1`
};

using reply = http::response;

reply json_reply(const call& c, http::status st, std::string body);
reply error_reply(const call& c, unsigned st, std::string_view code, std::string_view message);
reply failure_reply(const call& c, const admin_failure& f);

/// The reply for a change that failed (its failure) or was applied without its audit record
/// (500 storage_error: "<applied> but its audit record failed"); nullopt when all went well.
std::optional<reply> mutation_error(const call& c, const control_plane::outcome& out,
                                    std::string_view applied);

/// A non-negative integer query parameter within [min, max], its default when absent; an
/// error reply when malformed or out of range.
struct bounded {
    std::uint64_t value = 0;
    std::optional<reply> error;
};
bounded uint_param(const call& c, const std::string& name, std::uint64_t def, std::uint64_t min,
                   std::uint64_t max);

/// A key as the caller may see it: its raw token only with `with_token`.
std::string key_view(const config::virtual_key_config& k, bool with_token);
/// 403 unless the caller may see secrets; 409 secret_unavailable when one is stored hashed.
std::optional<reply> check_secrets(const call& c,
                                   const std::vector<const config::virtual_key_config*>& shown);

// keys_routes.cpp
reply keys_list(const parts& p, const call& c);
boost::asio::awaitable<reply> keys_upsert(const parts& p, const call& c,
                                          std::optional<std::string> path_id);
boost::asio::awaitable<reply> keys_delete(const parts& p, const call& c, std::string id);
boost::asio::awaitable<reply> keys_rotate(const parts& p, const call& c, std::string id);

// config_routes.cpp
reply config_current(const parts& p, const call& c);
reply config_versions(const parts& p, const call& c);
reply config_version_by_id(const parts& p, const call& c, const std::string& id);
reply config_export(const parts& p, const call& c);
reply config_diff(const parts& p, const call& c);
reply config_validate(const parts& p, const call& c);
boost::asio::awaitable<reply> config_router(const parts& p, const call& c);

// canary_routes.cpp (docs/routing.md, "Canary")
reply canary_get(const parts& p, const call& c);
boost::asio::awaitable<reply> canary_start(const parts& p, const call& c);
/// Promote (the candidate becomes the router) or roll back (the canary is dropped).
boost::asio::awaitable<reply> canary_end(const parts& p, const call& c, bool promote);
boost::asio::awaitable<reply> config_rollback(const parts& p, const call& c);

// report_routes.cpp
boost::asio::awaitable<reply> audit_list(const parts& p, const call& c);
boost::asio::awaitable<reply> audit_export(const parts& p, const call& c);
boost::asio::awaitable<reply> ledgers(const parts& p, const call& c, bool costs, std::string view);
boost::asio::awaitable<reply> spend_report(const parts& p, const call& c);
boost::asio::awaitable<reply> reap(const parts& p, const call& c);
boost::asio::awaitable<reply> cache_purge(const parts& p, const call& c);

}  // namespace ditto::admin

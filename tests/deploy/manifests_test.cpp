// configs/kubernetes: a Kustomize base and three overlays (single, redis, monitoring). Each
// overlay is rendered with `kubectl kustomize` (the machine's kubectl: 1.32 here, Debian 12's
// kubernetes-client 1.20 on a fresh Debian, which scripts/deps.sh installs where no kubectl
// exists; DITTO_KUBECTL=/path/to/kubectl picks another) and the result is held to what
// docs/deployment.md promises: one replica on the memory store, or three on Redis with a
// PodDisruptionBudget and the Redis URL wired from the Secret; the original Ditto names
// (Secret ditto-gateway-secrets with DITTO_ADMIN_TOKEN, ConfigMap ditto-gateway-config
// mounted at /config, Service port 8080); probes and a grace period longer than preStop +
// drain; the ServiceMonitor and the PrometheusRule in the monitoring overlay only, the rule
// groups equal to configs/monitoring/rules.yaml's. The ConfigMap's gateway.json passes
// --check-config with the example Secret's values.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace ditto::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path root = fs::path(DITTO_SOURCE_DIR);
const std::vector<std::string> overlays = {"single", "redis", "monitoring"};

// Renders every overlay and parses every YAML file under configs/kubernetes, plus
// configs/monitoring/rules.yaml, into one JSON document:
// {"kubectl": "<version line>", "overlays": {name: [objects]}, "files": {path: [documents]},
//  "rules": {...}}.
const char* const render_script = R"py(
import json, os, pathlib, shutil, subprocess, sys, yaml
root = pathlib.Path(sys.argv[1])
k8s = root / 'configs' / 'kubernetes'
kubectl = os.environ.get('DITTO_KUBECTL') or shutil.which('kubectl')
if not kubectl:
    sys.exit('kubectl not found: scripts/deps.sh installs kubernetes-client where none is')
version = subprocess.run([kubectl, 'version', '--client'], capture_output=True, text=True)
out = {'kubectl': kubectl + ': ' + (version.stdout.splitlines() or ['?'])[0],
       'overlays': {}, 'files': {}}
for name in sys.argv[2:]:
    r = subprocess.run([kubectl, 'kustomize', str(k8s / 'overlays' / name)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit('kubectl kustomize overlays/%s failed (%s): %s' % (name, out['kubectl'], r.stderr))
    out['overlays'][name] = [d for d in yaml.safe_load_all(r.stdout) if d is not None]
for p in sorted(k8s.rglob('*.yaml')):
    out['files'][str(p.relative_to(k8s))] = [
        d for d in yaml.safe_load_all(p.read_text()) if d is not None]
out['rules'] = yaml.safe_load((root / 'configs' / 'monitoring' / 'rules.yaml').read_text())
print(json.dumps(out))
)py";

const json& rendered() {
    static const json all = [] {
        std::vector<std::string> args = {"-c", render_script, root.string()};
        args.insert(args.end(), overlays.begin(), overlays.end());
        auto r = run_to_exit("/usr/bin/python3", args, std::chrono::seconds(120));
        if (r.exit_code != 0) {
            ADD_FAILURE() << "rendering the overlays failed: " << r.err;
            return json::object({{"overlays", json::object()},
                                 {"files", json::object()},
                                 {"rules", json::object()}});
        }
        return json::parse(r.out);
    }();
    return all;
}

const json& objects(const std::string& overlay) {
    static const json none = json::array();
    const auto& o = rendered()["overlays"];
    return o.contains(overlay) ? o[overlay] : none;
}

const json* find(const json& docs, const std::string& kind, const std::string& name) {
    for (const auto& d : docs) {
        if (d.value("kind", "") == kind && d["metadata"].value("name", "") == name)
            return &d;
    }
    return nullptr;
}

std::size_t count_kind(const json& docs, const std::string& kind) {
    return static_cast<std::size_t>(std::count_if(
        docs.begin(), docs.end(), [&](const json& d) { return d.value("kind", "") == kind; }));
}

std::vector<std::string> args_of(const json& deployment) {
    std::vector<std::string> out;
    for (const auto& a : deployment["spec"]["template"]["spec"]["containers"][0]["args"])
        out.push_back(a.get<std::string>());
    return out;
}

std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
    for (const auto& s : args) {
        if (s.rfind(flag + "=", 0) == 0)
            return s.substr(flag.size() + 1);
    }
    return "";
}

// Whether every label of `selector` is on `labels` with the same value.
bool selects(const json& selector, const json& labels) {
    if (!selector.is_object() || selector.empty() || !labels.is_object())
        return false;
    for (const auto& [k, v] : selector.items()) {
        if (!labels.contains(k) || labels[k] != v)
            return false;
    }
    return true;
}

bool has_flag_prefix(const std::vector<std::string>& args, const std::string& prefix) {
    return std::any_of(args.begin(), args.end(),
                       [&](const std::string& a) { return a.rfind(prefix, 0) == 0; });
}

// The example Secret (base/secret.example.yaml, in no overlay: the real one is created out
// of band).
const json* example_secret(const std::string& name) {
    const auto& files = rendered()["files"];
    if (!files.contains("base/secret.example.yaml"))
        return nullptr;
    return find(files["base/secret.example.yaml"], "Secret", name);
}

TEST(Manifests, EveryFileParsesAndEveryOverlayRenders) {
    const auto& all = rendered();
    std::cout << "kubectl: " << all.value("kubectl", "?") << "\n";
    const auto& files = all["files"];
    ASSERT_GE(files.size(), 10u);
    for (const auto& [file, docs] : files.items()) {
        ASSERT_FALSE(docs.empty()) << file;
        if (fs::path(file).filename().string() == "kustomization.yaml")
            continue;
        for (const auto& d : docs) {
            EXPECT_TRUE(d.contains("apiVersion") && d.contains("kind") && d.contains("metadata"))
                << file;
        }
    }
    for (const auto& o : overlays) {
        EXPECT_FALSE(objects(o).empty()) << o;
        // kustomize adds no hash suffix and no prefix: these exact names are referred to.
        EXPECT_TRUE(find(objects(o), "ConfigMap", "ditto-gateway-config")) << o;
        EXPECT_TRUE(find(objects(o), "Deployment", "ditto-gateway")) << o;
        EXPECT_TRUE(find(objects(o), "Service", "ditto-gateway")) << o;
        // The Secret is never rendered: applying an overlay must not overwrite the real one.
        EXPECT_EQ(count_kind(objects(o), "Secret"), 0u) << o;
    }
}

// What every overlay promises: the original Ditto names, probes, the drain, resources.
TEST(Manifests, EveryOverlayKeepsTheNamesProbesAndDrain) {
    const auto* secret = example_secret("ditto-gateway-secrets");
    ASSERT_TRUE(secret);
    for (const auto& o : overlays) {
        SCOPED_TRACE("overlay " + o);
        const auto& docs = objects(o);
        const auto* dep = find(docs, "Deployment", "ditto-gateway");
        ASSERT_TRUE(dep);
        const auto& spec = (*dep)["spec"];
        EXPECT_EQ(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
        const auto& pod = spec["template"]["spec"];
        const auto& c = pod["containers"][0];
        const auto args = args_of(*dep);

        // Secret ditto-gateway-secrets (envFrom), admin token DITTO_ADMIN_TOKEN.
        ASSERT_EQ(c["envFrom"].size(), 1u);
        EXPECT_EQ(c["envFrom"][0]["secretRef"]["name"], "ditto-gateway-secrets");
        EXPECT_EQ(flag_value(args, "--admin-token-env"), "DITTO_ADMIN_TOKEN");
        EXPECT_TRUE((*secret)["stringData"].contains("DITTO_ADMIN_TOKEN"));

        // ConfigMap ditto-gateway-config mounted at /config, read from there.
        ASSERT_FALSE(args.empty());
        EXPECT_EQ(args[0], "/config/gateway.json");
        std::string volume;
        for (const auto& v : pod["volumes"]) {
            if (v.contains("configMap") && v["configMap"]["name"] == "ditto-gateway-config")
                volume = v["name"].get<std::string>();
        }
        ASSERT_FALSE(volume.empty());
        bool mounted = false;
        for (const auto& m : c["volumeMounts"]) {
            mounted = mounted || (m["name"].get<std::string>() == volume &&
                                  m["mountPath"].get<std::string>() == "/config");
        }
        EXPECT_TRUE(mounted);
        const auto* cm = find(docs, "ConfigMap", "ditto-gateway-config");
        ASSERT_TRUE(cm);
        EXPECT_TRUE((*cm)["data"].contains("gateway.json"));

        // Service port 8080 onto the container's port 8080, which the gateway listens on.
        EXPECT_EQ(flag_value(args, "--listen"), "0.0.0.0:8080");
        ASSERT_EQ(c["ports"].size(), 1u);
        EXPECT_EQ(c["ports"][0]["containerPort"], 8080);
        const auto port_name = c["ports"][0]["name"];
        const auto* svc = find(docs, "Service", "ditto-gateway");
        ASSERT_TRUE(svc);
        ASSERT_EQ((*svc)["spec"]["ports"].size(), 1u);
        EXPECT_EQ((*svc)["spec"]["ports"][0]["port"], 8080);
        EXPECT_EQ((*svc)["spec"]["ports"][0]["targetPort"], port_name);
        EXPECT_EQ((*svc)["spec"]["selector"], spec["selector"]["matchLabels"]);
        EXPECT_TRUE(
            selects(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"]));

        // Probes, the drain inside the grace period, resources, Prometheus metrics.
        EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/ready");
        EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/health");
        const int drain = std::stoi(flag_value(args, "--drain-timeout-secs"));
        const int pre_stop =
            std::stoi(c["lifecycle"]["preStop"]["exec"]["command"][1].get<std::string>());
        EXPECT_GT(pod["terminationGracePeriodSeconds"].get<int>(), drain + pre_stop);
        EXPECT_TRUE(c["resources"]["requests"].contains("cpu"));
        EXPECT_TRUE(c["resources"]["limits"].contains("memory"));
        EXPECT_NE(std::find(args.begin(), args.end(), "--prometheus-metrics"), args.end());
    }
}

TEST(Manifests, SingleIsOneReplicaOnTheMemoryStore) {
    const auto& docs = objects("single");
    const auto* dep = find(docs, "Deployment", "ditto-gateway");
    ASSERT_TRUE(dep);
    EXPECT_EQ((*dep)["spec"]["replicas"], 1);
    const auto args = args_of(*dep);
    EXPECT_FALSE(has_flag_prefix(args, "--redis")) << "the memory store takes no Redis flag";
    EXPECT_FALSE(has_flag_prefix(args, "--state"));
    // A PodDisruptionBudget over one replica would block every node drain.
    EXPECT_EQ(count_kind(docs, "PodDisruptionBudget"), 0u);
    EXPECT_EQ(count_kind(docs, "StatefulSet"), 0u);
    EXPECT_EQ(count_kind(docs, "ServiceMonitor"), 0u);
    EXPECT_EQ(count_kind(docs, "PrometheusRule"), 0u);
}

TEST(Manifests, RedisIsThreeReplicasWiredToTheRedisOfTheSecret) {
    const auto& docs = objects("redis");
    const auto* dep = find(docs, "Deployment", "ditto-gateway");
    ASSERT_TRUE(dep);
    const int replicas = (*dep)["spec"]["replicas"].get<int>();
    EXPECT_EQ(replicas, 3);
    const auto args = args_of(*dep);
    EXPECT_EQ(flag_value(args, "--redis-env"), "REDIS_URL");
    EXPECT_EQ(flag_value(args, "--redis-prefix"), "ditto");
    EXPECT_FALSE(has_flag_prefix(args, "--redis="));  // never the URL itself on the command line
    // The patch repeats the base's arguments: none may be lost.
    const auto* single = find(objects("single"), "Deployment", "ditto-gateway");
    ASSERT_TRUE(single);
    for (const auto& a : args_of(*single))
        EXPECT_NE(std::find(args.begin(), args.end(), a), args.end()) << a;

    const auto* pdb = find(docs, "PodDisruptionBudget", "ditto-gateway");
    ASSERT_TRUE(pdb);
    EXPECT_GE((*pdb)["spec"]["minAvailable"].get<int>(), 1);
    EXPECT_LT((*pdb)["spec"]["minAvailable"].get<int>(), replicas);
    EXPECT_EQ((*pdb)["spec"]["selector"]["matchLabels"], (*dep)["spec"]["selector"]["matchLabels"]);

    // REDIS_URL of the example Secret names the Redis this overlay runs: its Service and port,
    // with the password of the Secret the Redis StatefulSet reads.
    const auto* secret = example_secret("ditto-gateway-secrets");
    ASSERT_TRUE(secret);
    const auto url = (*secret)["stringData"].value("REDIS_URL", "");
    const auto* redis_svc = find(docs, "Service", "ditto-redis");
    ASSERT_TRUE(redis_svc);
    const auto* redis = find(docs, "StatefulSet", "ditto-redis");
    ASSERT_TRUE(redis);
    const auto redis_port = (*redis_svc)["spec"]["ports"][0]["port"].get<int>();
    EXPECT_NE(url.find("@ditto-redis:" + std::to_string(redis_port) + "/"), std::string::npos)
        << url;
    const auto* redis_secret = example_secret("ditto-redis");
    ASSERT_TRUE(redis_secret);
    const auto password = (*redis_secret)["stringData"].value("password", "");
    EXPECT_EQ(url.rfind("redis://:" + password + "@", 0), 0u) << url;
    const auto& env = (*redis)["spec"]["template"]["spec"]["containers"][0]["env"];
    bool from_secret = false;
    for (const auto& e : env) {
        if (e.contains("valueFrom")) {
            const auto& ref = e["valueFrom"]["secretKeyRef"];
            from_secret = from_secret || (ref["name"] == "ditto-redis" && ref["key"] == "password");
        }
    }
    EXPECT_TRUE(from_secret);
    EXPECT_EQ(count_kind(docs, "ServiceMonitor"), 0u);
    EXPECT_EQ(count_kind(docs, "PrometheusRule"), 0u);
}

TEST(Manifests, MonitoringAddsAServiceMonitorAndTheRulesOfConfigsMonitoring) {
    const auto& docs = objects("monitoring");
    // The redis overlay's objects, unchanged, plus exactly one ServiceMonitor and one
    // PrometheusRule.
    const auto& redis = objects("redis");
    for (const auto& d : redis) {
        const auto* same =
            find(docs, d["kind"].get<std::string>(), d["metadata"]["name"].get<std::string>());
        ASSERT_TRUE(same) << d["kind"] << " " << d["metadata"]["name"];
        EXPECT_EQ(*same, d) << d["kind"] << " " << d["metadata"]["name"];
    }
    EXPECT_EQ(docs.size(), redis.size() + 2);
    ASSERT_EQ(count_kind(docs, "ServiceMonitor"), 1u);
    ASSERT_EQ(count_kind(docs, "PrometheusRule"), 1u);

    const auto* sm = find(docs, "ServiceMonitor", "ditto-gateway");
    ASSERT_TRUE(sm);
    EXPECT_EQ((*sm)["apiVersion"], "monitoring.coreos.com/v1");
    const auto* svc = find(docs, "Service", "ditto-gateway");
    ASSERT_TRUE(svc);
    // The gateway's Service is selected, Redis' is not.
    const auto& selector = (*sm)["spec"]["selector"]["matchLabels"];
    EXPECT_TRUE(selects(selector, (*svc)["metadata"]["labels"]));
    const auto* redis_svc = find(docs, "Service", "ditto-redis");
    ASSERT_TRUE(redis_svc);
    EXPECT_FALSE(selects(selector, (*redis_svc)["metadata"]["labels"]));
    ASSERT_EQ((*sm)["spec"]["endpoints"].size(), 1u);
    const auto& ep = (*sm)["spec"]["endpoints"][0];
    EXPECT_EQ(ep["port"], (*svc)["spec"]["ports"][0]["name"]);
    EXPECT_EQ(ep["path"], "/metrics/prometheus");

    const auto* rule = find(docs, "PrometheusRule", "ditto-gateway");
    ASSERT_TRUE(rule);
    EXPECT_EQ((*rule)["apiVersion"], "monitoring.coreos.com/v1");
    const auto& rules = rendered()["rules"];
    ASSERT_TRUE(rules.contains("groups"));
    EXPECT_EQ((*rule)["spec"]["groups"], rules["groups"])
        << "the PrometheusRule differs from configs/monitoring/rules.yaml: run "
           "python3 tests/monitoring/prometheusrule.py --write";
    std::set<std::string> alerts;
    for (const auto& g : (*rule)["spec"]["groups"])
        for (const auto& r : g["rules"])
            if (r.contains("alert"))
                alerts.insert(r["alert"].get<std::string>());
    for (const char* a : {"DittoGatewayBackendDown", "DittoGatewayErrorRatioHigh",
                          "DittoGatewayBudgetNearlyExhausted", "DittoGatewayOverheadHigh",
                          "DittoGatewayRedisUnavailable"})
        EXPECT_TRUE(alerts.count(a)) << a;
}

TEST(Manifests, TheConfigMapsGatewayJsonIsValid) {
    const auto* cm = find(objects("single"), "ConfigMap", "ditto-gateway-config");
    ASSERT_TRUE(cm);
    const auto* secret = example_secret("ditto-gateway-secrets");
    ASSERT_TRUE(secret);
    temp_dir tmp;
    const auto file = tmp.write("gateway.json", (*cm)["data"]["gateway.json"].get<std::string>());
    // The example Secret's values stand in for the real ones.
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& [k, v] : (*secret)["stringData"].items())
        env.emplace_back(k, v.get<std::string>());
    child_process p;
    p.start(DITTO_GATEWAY_BIN, {file, "--check-config"}, env);
    EXPECT_EQ(p.wait_exit(std::chrono::seconds(10)), std::optional<int>(0)) << p.stderr_text();
    EXPECT_NE(p.stdout_text().find("OK (2 backends, 1 virtual keys"), std::string::npos)
        << p.stdout_text();
}

}  // namespace
}  // namespace ditto::test

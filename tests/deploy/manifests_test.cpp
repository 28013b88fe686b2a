// configs/kubernetes: every manifest parses as YAML (python3-yaml turns it into JSON), and
// the Deployment, PDB, Service and ConfigMap say what docs/deployment.md promises — at
// least two replicas, probes on /ready and /health, a grace period longer than preStop +
// drain, Redis from the Secret — and the ConfigMap's gateway.json passes --check-config.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace ditto::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path dir = fs::path(DITTO_SOURCE_DIR) / "configs" / "kubernetes";

// Every document of every manifest, as JSON.
json load_all() {
    const std::string script =
        "import json, sys, yaml, pathlib\n"
        "docs = []\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml')):\n"
        "    for d in yaml.safe_load_all(p.read_text()):\n"
        "        if d is not None:\n"
        "            d['__file'] = p.name\n"
        "            docs.append(d)\n"
        "print(json.dumps(docs))\n";
    auto r = run_to_exit("/usr/bin/python3", {"-c", script, dir.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
}

const json* find(const json& docs, const std::string& kind, const std::string& name) {
    for (const auto& d : docs) {
        if (d.value("kind", "") == kind && d["metadata"].value("name", "") == name)
            return &d;
    }
    return nullptr;
}

std::string flag_value(const json& args, const std::string& flag) {
    for (const auto& a : args) {
        const auto s = a.get<std::string>();
        if (s.rfind(flag + "=", 0) == 0)
            return s.substr(flag.size() + 1);
    }
    return "";
}

TEST(Manifests, ParseAndDescribeAnHaDeployment) {
    const auto docs = load_all();
    ASSERT_GE(docs.size(), 7u);
    for (const auto& d : docs) {
        EXPECT_TRUE(d.contains("apiVersion") && d.contains("kind") && d.contains("metadata"))
            << d["__file"];
    }
    const auto* dep = find(docs, "Deployment", "ditto-gateway");
    ASSERT_TRUE(dep);
    const auto& spec = (*dep)["spec"];
    EXPECT_GE(spec["replicas"].get<int>(), 2);
    EXPECT_EQ(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    const auto& pod = spec["template"]["spec"];
    const auto& c = pod["containers"][0];
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/ready");
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/health");
    EXPECT_EQ(flag_value(c["args"], "--redis-env"), "REDIS_URL");
    const int drain = std::stoi(flag_value(c["args"], "--drain-timeout-secs"));
    const int pre_stop =
        std::stoi(c["lifecycle"]["preStop"]["exec"]["command"][1].get<std::string>());
    EXPECT_GT(pod["terminationGracePeriodSeconds"].get<int>(), drain + pre_stop);
    EXPECT_TRUE(c["resources"]["requests"].contains("cpu"));
    EXPECT_TRUE(c["resources"]["limits"].contains("memory"));
    EXPECT_EQ(c["envFrom"][0]["secretRef"]["name"], "ditto-gateway");

    const auto* pdb = find(docs, "PodDisruptionBudget", "ditto-gateway");
    ASSERT_TRUE(pdb);
    EXPECT_GE((*pdb)["spec"]["minAvailable"].get<int>(), 1);
    EXPECT_LT((*pdb)["spec"]["minAvailable"].get<int>(), spec["replicas"].get<int>());
    const auto* svc = find(docs, "Service", "ditto-gateway");
    ASSERT_TRUE(svc);
    EXPECT_EQ((*svc)["spec"]["selector"], spec["selector"]["matchLabels"]);
    const auto* secret = find(docs, "Secret", "ditto-gateway");
    ASSERT_TRUE(secret);
    EXPECT_TRUE((*secret)["stringData"].contains("REDIS_URL"));
}

TEST(Manifests, TheConfigMapsGatewayJsonIsValid) {
    const auto docs = load_all();
    const auto* cm = find(docs, "ConfigMap", "ditto-gateway");
    ASSERT_TRUE(cm);
    const auto* secret = find(docs, "Secret", "ditto-gateway");
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

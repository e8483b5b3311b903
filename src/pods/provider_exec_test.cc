#include "pods/provider_exec.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/temp_dir.h"

namespace podfleet {
namespace {

// An operator's program, as doc/pods.md describes: one pod store in a file.
class ExecProviderTest : public ::testing::Test {
 protected:
  ExecProviderTest() {
    std::ofstream(program) << R"(#!/bin/sh
dir=$(dirname "$0")
case "$1" in
  gpu-types) echo '{"gpu_types":[{"id":"a5000","name":"RTX A5000","price_per_hour":0.2,"stock":"High"}]}' ;;
  create)
    case "$2" in *'"gpu_type":"full"'*) echo "no machine free" >&2; exit 69 ;; esac
    echo "$2" > "$dir/spec.json"; echo "$PODFLEET_POD_ENV" > "$dir/env.json"
    echo '{"id":"p1","name":"pf-1","status":"running","ready":false,"price_per_hour":0.2}' ;;
  list) echo '{"pods":[{"id":"p1","name":"pf-1","gpu_type":"a5000","status":"running","ready":true,"price_per_hour":0.2}]}' ;;
  terminate) [ "$2" = p1 ] || { echo "no pod $2" >&2; exit 78; } ;;
  *) echo "unknown command" >&2; exit 2 ;;
esac
)";
    ::chmod(program.c_str(), 0700);
  }
  TempDir dir;
  std::string program = dir.File("provider");
  ExecProvider provider{program};
};

TEST_F(ExecProviderTest, SpeaksJsonBothWaysAndKeepsTheEnvironmentOffTheCommandLine) {
  auto offers = provider.GpuTypes();
  ASSERT_TRUE(offers) << offers.error().ToString();
  EXPECT_EQ(*offers->at(0).price_per_hour, 0.2);
  PodSpec spec;
  spec.name = "pf-1";
  spec.gpu_type = "a5000";
  spec.env = {{"PODFLEET_TOKEN", "pfe_secret"}};
  auto pod = provider.Create(spec);
  ASSERT_TRUE(pod) << pod.error().ToString();
  EXPECT_EQ(pod->id, "p1");
  std::string spec_json, env_json;
  std::getline(std::ifstream(dir.File("spec.json")), spec_json);
  std::getline(std::ifstream(dir.File("env.json")), env_json);
  EXPECT_EQ(spec_json.find("pfe_secret"), std::string::npos);
  EXPECT_NE(env_json.find("\"PODFLEET_TOKEN\":\"pfe_secret\""), std::string::npos);
  auto pods = provider.List();
  ASSERT_TRUE(pods);
  EXPECT_TRUE(pods->at(0).ready);
  EXPECT_TRUE(provider.Terminate("p1"));
}

TEST_F(ExecProviderTest, ExitCodesMapToTheContract) {
  PodSpec full;
  full.gpu_type = "full";
  auto none = provider.Create(full);
  ASSERT_FALSE(none);
  EXPECT_TRUE(IsNoCapacity(none.error()));
  EXPECT_NE(none.error().message.find("no machine free"), std::string::npos);
  EXPECT_EQ(provider.Terminate("p9").error().code, Code::kNotFound);
  ExecProvider missing(dir.File("absent"));
  EXPECT_FALSE(missing.List());
}

}  // namespace
}  // namespace podfleet

#include "pods/provider_runpod.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "net/http_client.h"
#include "net/http_server.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using json = nlohmann::json;

// A loopback server answering each GraphQL POST with the next queued reply, recording requests.
class GraphqlStub {
 public:
  GraphqlStub() {
    auto server = HttpServer::Start({.port = 0}, [this](HttpRequest r, HttpResponder respond) {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      HttpResponse reply = HttpResponse::Json(500, R"({"message":"no reply queued"})");
      if (!replies_.empty()) reply = replies_.front(), replies_.pop_front();
      respond(std::move(reply));
    });
    EXPECT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/graphql";
  }
  void Reply(int status, std::string body,
             std::vector<std::pair<std::string, std::string>> h = {}) {
    std::lock_guard lock(mu_);
    HttpResponse r = HttpResponse::Json(status, std::move(body));
    r.headers = std::move(h);
    replies_.push_back(std::move(r));
  }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<HttpResponse> replies_;
  std::vector<HttpRequest> requests_;
  std::unique_ptr<HttpServer> server_;
};

class RunPodTest : public ::testing::Test {
 protected:
  RunPodTest() : http(MakeCurlClient({})), provider({stub.url(), "rpa_SECRETKEY"}, *http, clock) {}
  GraphqlStub stub;
  ManualClock clock;
  std::unique_ptr<HttpClient> http;
  RunPodProvider provider;
};

TEST_F(RunPodTest, CreateSendsTheDocumentedInputAsVariablesWithTheKeyInTheHeader) {
  stub.Reply(200, R"({"data":{"podFindAndDeployOnDemand":{"id":"50qynxzilsxoey","name":"pf-1",
                     "desiredStatus":"RUNNING","costPerHr":0.22,"machineId":"hpv"}}})");
  PodSpec spec;
  spec.name = "pf-1";
  spec.gpu_type = "NVIDIA RTX A5000";
  spec.cloud = "SECURE";
  spec.image = "runpod/base:0.6.2-cuda12.4.1";
  spec.cuda_versions = {"12.4", "12.8"};
  spec.env = {{"PODFLEET_TOKEN", "pfe_x"}};
  spec.command = "sh -c 'echo \"quoted\"'";
  auto pod = provider.Create(spec);
  ASSERT_TRUE(pod) << pod.error().ToString();
  EXPECT_EQ(pod->id, "50qynxzilsxoey");
  EXPECT_EQ(pod->price_per_hour, 0.22);
  const HttpRequest r = stub.requests().at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.Header("authorization"), "Bearer rpa_SECRETKEY");
  EXPECT_EQ(r.body.find("rpa_SECRETKEY"), std::string::npos);
  EXPECT_EQ(r.target.find("api_key"), std::string::npos);
  const json body = json::parse(r.body);
  EXPECT_NE(body["query"].get<std::string>().find("$input: PodFindAndDeployOnDemandInput!"),
            std::string::npos);
  const json& in = body["variables"]["input"];
  EXPECT_EQ(in["gpuTypeId"], "NVIDIA RTX A5000");
  EXPECT_EQ(in["cloudType"], "SECURE");
  EXPECT_EQ(in["gpuCount"], 1);
  EXPECT_EQ(in["allowedCudaVersions"], json({"12.4", "12.8"}));
  EXPECT_EQ(in["env"], json::parse(R"([{"key":"PODFLEET_TOKEN","value":"pfe_x"}])"));
  EXPECT_EQ(in["dockerArgs"], spec.command);  // as a value: no quoting into the query
  EXPECT_EQ(body["query"].get<std::string>().find("quoted"), std::string::npos);
}

TEST_F(RunPodTest, NoCapacityArrivesAsAGraphqlErrorWithHttp200) {
  stub.Reply(
      200,
      R"({"errors":[{"message":"There are no longer any instances available with the requested specifications. Please refresh and try again."}],"data":null})");
  auto pod = provider.Create(PodSpec{});
  ASSERT_FALSE(pod);
  EXPECT_TRUE(IsNoCapacity(pod.error())) << pod.error().ToString();
}

TEST_F(RunPodTest, ErrorsMapToCodesAndNeverCarryTheKey) {
  stub.Reply(401, R"({"message":"unauthorized"})");
  stub.Reply(502, "bad gateway");
  stub.Reply(
      200,
      R"({"errors":[{"message":"Something went wrong. Please try again later or contact support.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]})");
  stub.Reply(
      400,
      R"({"errors":[{"message":"Field \"bogus\" is not defined by type PodFindAndDeployOnDemandInput."}]})");
  stub.Reply(200, "not json");
  const auto a = provider.List(), b = provider.List(), c = provider.List(), d = provider.List(),
             e = provider.List();
  EXPECT_EQ(a.error().code, Code::kPermissionDenied);
  EXPECT_EQ(b.error().code, Code::kUnavailable);
  EXPECT_EQ(c.error().code, Code::kUnavailable);
  EXPECT_FALSE(IsNoCapacity(c.error()));
  EXPECT_EQ(d.error().code, Code::kInvalidArgument);
  EXPECT_NE(d.error().message.find("bogus"), std::string::npos);
  EXPECT_EQ(e.error().code, Code::kCorruption);
  for (const auto* r : {&a, &b, &c, &d, &e})
    EXPECT_EQ(r->error().message.find("SECRETKEY"), std::string::npos) << r->error().message;
}

TEST_F(RunPodTest, A429IsHonouredWithoutCallingAgainUntilRetryAfter) {
  stub.Reply(429, R"({"message":"slow down"})", {{"Retry-After", "7"}});
  stub.Reply(200, R"({"data":{"myself":{"pods":[]}}})");
  EXPECT_EQ(provider.List().error().code, Code::kUnavailable);
  EXPECT_EQ(provider.List().error().code, Code::kUnavailable);  // refused locally
  EXPECT_EQ(stub.requests().size(), 1u);
  clock.Advance(Millis(7'000));
  EXPECT_TRUE(provider.List());
  EXPECT_EQ(stub.requests().size(), 2u);
}

TEST_F(RunPodTest, ListReadsPodsAndReadinessFromRuntime) {
  stub.Reply(200, R"({"data":{"myself":{"pods":[
    {"id":"a","name":"pf-1","desiredStatus":"RUNNING","costPerHr":0.22,"gpuCount":1,
     "lastStatusChange":"x","machine":{"gpuDisplayName":"RTX A5000"},"runtime":null},
    {"id":"b","name":"pf-2","desiredStatus":"EXITED","costPerHr":0.34,"gpuCount":1,
     "lastStatusChange":"x","machine":{"gpuDisplayName":"RTX 4090"},"runtime":{"uptimeInSeconds":9}}]}}})");
  auto pods = provider.List();
  ASSERT_TRUE(pods) << pods.error().ToString();
  ASSERT_EQ(pods->size(), 2u);
  EXPECT_FALSE((*pods)[0].ready);
  EXPECT_EQ((*pods)[0].status, "running");
  EXPECT_TRUE((*pods)[1].ready);
  EXPECT_EQ((*pods)[1].status, "exited");
  EXPECT_EQ((*pods)[1].gpu_type, "RTX 4090");
}

TEST_F(RunPodTest, GpuTypesTakeTheLowestPriceStockAndCloudPrices) {
  stub.Reply(200, R"({"data":{"gpuTypes":[
    {"id":"NVIDIA RTX A5000","displayName":"RTX A5000","memoryInGb":24,"securePrice":0.27,
     "communityPrice":0.16,"lowestPrice":{"uninterruptablePrice":0.22,"stockStatus":"High"}},
    {"id":"NVIDIA L4","displayName":"L4","memoryInGb":24,"securePrice":0.43,"communityPrice":null,
     "lowestPrice":{"uninterruptablePrice":null,"stockStatus":"None"}}]}})");
  auto offers = provider.GpuTypes();
  ASSERT_TRUE(offers) << offers.error().ToString();
  ASSERT_EQ(offers->size(), 2u);
  EXPECT_EQ(*(*offers)[0].price_per_hour, 0.22);
  EXPECT_TRUE((*offers)[0].available());
  EXPECT_FALSE((*offers)[1].available());
  EXPECT_EQ(FindOffer(*offers, "rtx a5000"), &(*offers)[0]);
  // Each cloud's list price, where RunPod gives one; else the lowest price.
  EXPECT_EQ(*(*offers)[0].PriceOn("SECURE"), 0.27);
  EXPECT_EQ(*(*offers)[0].PriceOn("COMMUNITY"), 0.16);
  EXPECT_EQ(*(*offers)[0].PriceOn("ALL"), 0.22);
  EXPECT_EQ(*(*offers)[1].PriceOn("SECURE"), 0.43);
  EXPECT_EQ((*offers)[1].PriceOn("COMMUNITY"), (*offers)[1].price_per_hour);
}

TEST_F(RunPodTest, TerminateSendsThePodIdAsAVariable) {
  stub.Reply(200, R"({"data":{"podTerminate":null}})");
  ASSERT_TRUE(provider.Terminate("50qynxzilsxoey"));
  const json body = json::parse(stub.requests().at(0).body);
  EXPECT_EQ(body["variables"]["podId"], "50qynxzilsxoey");
}

TEST(RunPodKey, AKeyFileOthersCanReadIsRefused) {
  TempDir dir;
  const std::string file = dir.File("runpod.key");
  std::ofstream(file) << "rpa_KEY\n";
  ::chmod(file.c_str(), 0644);
  ::unsetenv("RUNPOD_API_KEY");
  auto refused = LoadRunPodKey(file);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kPermissionDenied);
  EXPECT_EQ(refused.error().message.find("rpa_KEY"), std::string::npos);
  ::chmod(file.c_str(), 0600);
  EXPECT_EQ(LoadRunPodKey(file).value(), "rpa_KEY");
  EXPECT_EQ(LoadRunPodKey(dir.File("none")).error().code, Code::kNotFound);
}

}  // namespace
}  // namespace podfleet

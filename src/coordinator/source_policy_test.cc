// The source policy alone, then through a real coordinator on loopback: which feed and audio URLs
// the API takes, which enclosures a poll queues, and what workers are told to check.
#include "coordinator/source_policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "coordinator/coordinator.h"
#include "net/http_server.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;

const SourcePolicy kDefault;
const SourcePolicy kFiles{.allow_files = true};
const SourcePolicy kPublic{.public_only = true};

TEST(SourcePolicy, SchemeIsLowerCasedAndNeedsColonSlashSlash) {
  EXPECT_EQ(SchemeOf("HTTPS://example.org/x"), "https");
  EXPECT_EQ(SchemeOf("File:///etc/passwd"), "file");
  EXPECT_EQ(SchemeOf("/etc/passwd"), "");
  EXPECT_EQ(SchemeOf("file:/etc/passwd"), "");
  EXPECT_EQ(SchemeOf("://x"), "");
  EXPECT_EQ(SchemeOf("a b://x"), "");
}

TEST(SourcePolicy, OnlyHttpAndHttpsByDefault) {
  EXPECT_TRUE(CheckSourceUrl("http://example.org/feed.xml", kDefault));
  EXPECT_TRUE(CheckSourceUrl("https://example.org/feed.xml", kDefault));
  for (const char* url :
       {"ftp://example.org/a.mp3", "gopher://example.org/", "dict://x:11211/", "ldap://x/",
        "javascript://alert(1)", "file:///etc/passwd", "FILE:///etc/passwd", "not a url"}) {
    auto r = CheckSourceUrl(url, kDefault);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  }
  auto file = CheckSourceUrl("file:///srv/feed.xml", kDefault);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("--allow-file-urls"), std::string::npos);
}

TEST(SourcePolicy, FileUrlsWhenAllowed) {
  EXPECT_TRUE(CheckSourceUrl("file:///srv/podcasts/feed.xml", kFiles));
  EXPECT_FALSE(CheckSourceUrl("ftp://example.org/a.mp3", kFiles));
}

TEST(SourcePolicy, ControlCharactersAreRefused) {
  EXPECT_FALSE(CheckSourceUrl("http://example.org/a\r\nHost: evil", kDefault));
  EXPECT_FALSE(CheckSourceUrl(std::string_view("http://example.org/a\0b", 22), kDefault));
}

TEST(SourcePolicy, PublicOnlyRefusesPrivateHosts) {
  for (const char* url :
       {"http://127.0.0.1/feed.xml", "http://localhost:8750/api/health", "http://[::1]/x",
        "http://10.1.2.3/x", "https://192.168.0.1/x", "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/x", "http://0.0.0.0/x"}) {
    auto r = CheckSourceUrl(url, kPublic);
    ASSERT_FALSE(r) << url;
    EXPECT_NE(r.error().message.find("--refuse-private-addresses"), std::string::npos)
        << r.error().message;
  }
  EXPECT_TRUE(CheckSourceUrl("http://8.8.8.8/feed.xml", kPublic));
  EXPECT_TRUE(CheckSourceUrl("http://127.0.0.1/feed.xml", kDefault));
}

TEST(SourcePolicy, AFeedFetchedOverHttpNeverPointsAtFiles) {
  for (const SourcePolicy& p : {kDefault, kFiles}) {
    EXPECT_TRUE(EnclosureAllowed("https://example.org/feed", "https://cdn.example.org/a.mp3", p));
    EXPECT_FALSE(EnclosureAllowed("https://example.org/feed", "file:///etc/passwd", p));
    EXPECT_FALSE(EnclosureAllowed("https://example.org/feed", "FILE:///etc/passwd", p));
    EXPECT_FALSE(EnclosureAllowed("https://example.org/feed", "ftp://example.org/a.mp3", p));
  }
  EXPECT_TRUE(EnclosureAllowed("file:///srv/feed.xml", "file:///srv/a.mp3", kFiles));
  EXPECT_FALSE(EnclosureAllowed("file:///srv/feed.xml", "file:///srv/a.mp3", kDefault));
}

// ---- through the coordinator ----

std::string Rss(const std::vector<std::string>& enclosures) {
  std::string items;
  int n = 0;
  for (const std::string& url : enclosures) {
    items += "<item><title>item " + std::to_string(++n) + "</title><enclosure url=\"" + url +
             "\" type=\"audio/mpeg\" length=\"1\"/></item>";
  }
  return "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>" + items +
         "</channel></rss>";
}

// An HTTP origin on loopback serving one feed document and counting requests.
class FeedOrigin {
 public:
  explicit FeedOrigin(std::string feed) : feed_(std::move(feed)) {
    auto server = HttpServer::Start({.port = 0}, [this](HttpRequest, HttpResponder respond) {
      std::lock_guard lock(mu_);
      ++requests_;
      respond(HttpResponse::Text(200, feed_, "application/rss+xml"));
    });
    EXPECT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/feed.xml";
  }
  int requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  const std::string feed_;
  mutable std::mutex mu_;
  int requests_ = 0;  // guarded by mu_
  std::unique_ptr<HttpServer> server_;
};

class SourcePolicyCoordinatorTest : public ::testing::Test {
 protected:
  void Start(bool allow_files, bool public_only) {
    if (coordinator_) coordinator_->Stop();
    coordinator_.reset();
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data";
    o.port = 0;
    o.feed_interval = Millis(3'600'000);
    o.allow_file_urls = allow_files;
    o.refuse_private_addresses = public_only;
    o.relay = false;  // grants name the origin's URL, which the worker fetches and checks
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    if (coordinator_->first_admin_token()) admin_token_ = *coordinator_->first_admin_token();
    if (coordinator_->first_enrollment_token())
      enrollment_ = *coordinator_->first_enrollment_token();
    admin_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    admin_->set_admin_token(admin_token_);
  }

  // The refusal's message; fails the test when the call succeeded or failed otherwise.
  std::string Refused(const std::string& path, const std::string& url) {
    auto r = admin_->PostJson(path, {{"url", url}});
    EXPECT_FALSE(r) << path << " " << url << " was accepted";
    if (r) return "";
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << r.error().ToString();
    return r.error().message;
  }

  json Episodes() {
    auto e = admin_->GetJson("/api/episodes");
    EXPECT_TRUE(e);
    return e ? (*e)["episodes"] : json::array();
  }

  std::vector<WireGrant> ClaimAll() {
    CoordinatorClient worker(coordinator_->base_url(), *http_);
    NodeInfo info;
    info.name = "w";
    auto reg = worker.Register(enrollment_, info);
    EXPECT_TRUE(reg) << reg.error().ToString();
    if (!reg) return {};
    worker.set_node_token(reg->token);
    auto grants = worker.Claim(64, Millis(0));
    EXPECT_TRUE(grants) << grants.error().ToString();
    return grants ? *grants : std::vector<WireGrant>{};
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<HttpClient> http_ = MakeCurlClient(HttpClientOptions{});
  std::unique_ptr<Coordinator> coordinator_;
  std::string admin_token_, enrollment_;
  std::unique_ptr<CoordinatorClient> admin_;
};

TEST_F(SourcePolicyCoordinatorTest, FileUrlsAndLocalPathsAreRefusedByDefault) {
  Start(false, false);
  std::ofstream(dir_.File("feed.xml")) << Rss({"a.mp3"});
  for (const std::string& url :
       {"file://" + dir_.File("feed.xml"), dir_.File("feed.xml"), std::string("/no/such/file"),
        std::string("../../etc/passwd"), std::string("File:///etc/passwd")}) {
    EXPECT_NE(Refused("/api/feeds", url).find("--allow-file-urls"), std::string::npos) << url;
    EXPECT_FALSE(Refused("/api/episodes", url).empty()) << url;
  }
  auto feeds = admin_->GetJson("/api/feeds");
  ASSERT_TRUE(feeds);
  EXPECT_TRUE((*feeds)["feeds"].empty());
  EXPECT_TRUE(Episodes().empty());
}

TEST_F(SourcePolicyCoordinatorTest, OtherSchemesAreRefusedEvenWithFilesAllowed) {
  Start(true, false);
  for (const char* url : {"ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1:70/_x",
                          "dict://127.0.0.1:11211/stat", "scp://host/x"}) {
    Refused("/api/feeds", url);
    Refused("/api/episodes", url);
  }
  EXPECT_TRUE(Episodes().empty());
}

TEST_F(SourcePolicyCoordinatorTest, LocalFeedsWorkWhenAllowed) {
  Start(true, false);
  std::ofstream(dir_.File("feed.xml")) << Rss({"a.mp3"});
  auto added = admin_->PostJson("/api/feeds", {{"url", dir_.File("feed.xml")}});
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_EQ((*added)["new_episodes"], 1) << added->dump();
  EXPECT_EQ(Episodes()[0]["audio_url"], "file://" + dir_.File("a.mp3"));
}

TEST_F(SourcePolicyCoordinatorTest, ARemoteFeedCannotQueueFileEnclosures) {
  Start(true, false);
  FeedOrigin origin(
      Rss({"ep.mp3", "file:///etc/passwd", "FILE:///etc/hostname", "ftp://127.0.0.1/x.mp3"}));
  auto added = admin_->PostJson("/api/feeds", {{"url", origin.Url()}});
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_EQ((*added)["items"], 4) << added->dump();
  EXPECT_EQ((*added)["new_episodes"], 1) << added->dump();
  EXPECT_EQ((*added)["refused_enclosures"], 3) << added->dump();
  EXPECT_NE((*added)["feed"]["last_error"].get<std::string>().find("3 of 4"), std::string::npos);
  const json episodes = Episodes();
  ASSERT_EQ(episodes.size(), 1u);
  EXPECT_EQ(episodes[0]["audio_url"], origin.Url().substr(0, origin.Url().rfind('/')) + "/ep.mp3");
}

TEST_F(SourcePolicyCoordinatorTest, PrivateAddressesAreRefusedWhenAskedAndNothingIsFetched) {
  Start(false, true);
  FeedOrigin origin(Rss({"ep.mp3"}));
  std::string by_name = origin.Url();
  by_name.replace(by_name.find("127.0.0.1"), 9, "localhost");
  for (const std::string& url : {origin.Url(), by_name, std::string("http://[::1]:9/x.mp3"),
                                 std::string("http://169.254.169.254/latest/meta-data/")}) {
    EXPECT_NE(Refused("/api/feeds", url).find("--refuse-private-addresses"), std::string::npos);
    EXPECT_NE(Refused("/api/episodes", url).find("--refuse-private-addresses"), std::string::npos);
  }
  EXPECT_EQ(origin.requests(), 0);
  EXPECT_TRUE(Episodes().empty());
}

// A feed that was added before the option was turned on (or whose name now resolves privately):
// the poll's connection itself is refused.
TEST_F(SourcePolicyCoordinatorTest, PollOfAFeedOnAPrivateAddressIsRefusedAtConnect) {
  FeedOrigin origin(Rss({"ep.mp3"}));
  Start(false, false);
  auto added = admin_->PostJson("/api/feeds", {{"url", origin.Url()}});
  ASSERT_TRUE(added) << added.error().ToString();
  const int64_t feed = (*added)["feed"]["id"].get<int64_t>();
  ASSERT_GE(origin.requests(), 1);
  Start(false, true);
  const int before = origin.requests();
  auto refreshed = admin_->PostJson("/api/feeds/" + std::to_string(feed) + "/refresh", {});
  ASSERT_FALSE(refreshed);
  EXPECT_NE(refreshed.error().message.find("refused to connect to 127.0.0.1"), std::string::npos)
      << refreshed.error().message;
  EXPECT_EQ(origin.requests(), before);
}

TEST_F(SourcePolicyCoordinatorTest, GrantsTellWorkersToCheckAddressesExceptForUploads) {
  Start(false, true);
  auto added = admin_->PostJson("/api/episodes", {{"url", "http://8.8.8.8/a.mp3"}});
  ASSERT_TRUE(added) << added.error().ToString();
  auto uploaded = admin_->PostBytes("/api/episodes/upload?title=u", "ID3 bytes", "audio/mpeg");
  ASSERT_TRUE(uploaded) << uploaded.error().ToString();
  std::vector<WireGrant> grants = ClaimAll();
  ASSERT_EQ(grants.size(), 2u);
  for (const WireGrant& g : grants) {
    EXPECT_EQ(g.public_only, !g.audio_url.starts_with("/api/media/")) << g.audio_url;
  }
}

TEST_F(SourcePolicyCoordinatorTest, AllowedFileUrlsStayFetchableWithPrivateAddressesRefused) {
  Start(true, true);
  ASSERT_TRUE(admin_->PostJson("/api/episodes", {{"url", "file://" + dir_.File("a.mp3")}}));
  std::vector<WireGrant> grants = ClaimAll();
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants[0].public_only);
}

TEST_F(SourcePolicyCoordinatorTest, GrantsCarryNoAddressCheckByDefault) {
  Start(false, false);
  ASSERT_TRUE(admin_->PostJson("/api/episodes", {{"url", "http://127.0.0.1:9/a.mp3"}}));
  std::vector<WireGrant> grants = ClaimAll();
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants[0].public_only);
}

}  // namespace
}  // namespace podfleet

#include "coordinator/autoscaler.h"

#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace podfleet {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxDecisions = 200;   // in memory and in Status
constexpr int kStoredDecisions = 1000;  // in the store's log
constexpr size_t kMaxEndedRecords = 1000;

bool SameGpu(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int JobsOf(const FleetSnapshot& fleet, const std::string& name) {
  for (const FleetSnapshot::Node& n : fleet.nodes)
    if (n.name == name) return n.jobs;
  return 0;
}

std::string Dollars(double d) { return fmt::format("${:.3f}", d); }

double Hours(Millis m) { return static_cast<double>(m.count()) / 3'600'000.0; }

json RecordJson(const PodRecord& r) {
  return {{"name", r.name},
          {"id", r.id},
          {"gpu", r.gpu},
          {"price_per_hour", r.price_per_hour},
          {"state", r.state},
          {"reason", r.reason},
          {"created_ms", ToUnixMillis(r.created)},
          {"ended_ms", r.ended ? json(ToUnixMillis(*r.ended)) : json(nullptr)},
          {"adopted", r.adopted},
          {"cloud", r.cloud}};
}

PodRecord RecordOf(const json& j) {
  PodRecord r;
  r.name = j.at("name").get<std::string>();
  r.id = j.value("id", "");
  r.gpu = j.value("gpu", "");
  r.price_per_hour = j.value("price_per_hour", 0.0);
  r.state = j.value("state", "requested");
  r.reason = j.value("reason", "");
  r.created = FromUnixMillis(j.at("created_ms").get<int64_t>());
  if (j.contains("ended_ms") && j["ended_ms"].is_number())
    r.ended = FromUnixMillis(j["ended_ms"].get<int64_t>());
  r.adopted = j.value("adopted", false);
  r.cloud = j.value("cloud", "");
  return r;
}

}  // namespace

Result<std::unique_ptr<Autoscaler>> Autoscaler::Open(AutoscaleOptions options,
                                                     PodProvider& provider, const Clock& clock,
                                                     Store* decisions) {
  if (options.max_pods < 0) return InvalidArgument("--max-pods must not be negative");
  if (!(options.budget_per_hour > 0)) return InvalidArgument("--budget must be positive");
  if (options.gpus.empty()) return InvalidArgument("--gpu must name at least one GPU type");
  if (options.name_prefix.empty()) return InvalidArgument("the pod name prefix must not be empty");
  if (options.clouds.empty() || std::any_of(options.clouds.begin(), options.clouds.end(),
                                            [](const std::string& c) { return c.empty(); }))
    return InvalidArgument("--cloud must name at least one cloud");
  std::unique_ptr<Autoscaler> a(new Autoscaler(std::move(options), provider, clock, decisions));
  MutexLock lock(a->mu_);
  if (auto r = a->Load(); !r) return std::unexpected(r.error());
  if (decisions) {
    auto stored = decisions->ListDecisions(static_cast<int>(kMaxDecisions));
    if (!stored) return std::unexpected(stored.error());
    a->decisions_ = std::move(*stored);
  }
  return a;
}

Result<void> Autoscaler::Load() {
  if (options_.state_file.empty() || !std::filesystem::exists(options_.state_file)) return {};
  std::ifstream in(options_.state_file);
  json j = json::parse(in, nullptr, false);
  try {
    if (!j.is_object()) throw std::runtime_error("not a JSON object");
    serial_ = j.value("serial", int64_t{0});
    for (const json& g : j.value("failed_gpus", json::array())) failed_gpus_.insert(g);
    for (const json& p : j.value("pods", json::array())) pods_.push_back(RecordOf(p));
  } catch (const std::exception& e) {
    return Corruption(fmt::format("{}: {}", options_.state_file.string(), e.what()));
  }
  return {};
}

void Autoscaler::Save() {
  if (options_.state_file.empty()) return;
  // Ended records beyond the newest kMaxEndedRecords are dropped (their spend with them).
  size_t ended = 0;
  for (auto it = pods_.rbegin(); it != pods_.rend(); ++it) ended += !it->live();
  while (ended > kMaxEndedRecords) {
    auto it =
        std::find_if(pods_.begin(), pods_.end(), [](const PodRecord& r) { return !r.live(); });
    pods_.erase(it);
    --ended;
  }
  json pods = json::array();
  for (const PodRecord& r : pods_) pods.push_back(RecordJson(r));
  json j = {{"serial", serial_}, {"failed_gpus", failed_gpus_}, {"pods", pods}};
  const std::filesystem::path tmp = options_.state_file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(1) << '\n';
    if (!out.flush()) {
      Decide(fmt::format("could not write {}: the records live in memory until the next tick",
                         tmp.string()));
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.state_file, ec);
  if (ec)
    Decide(fmt::format("could not replace {}: {}", options_.state_file.string(), ec.message()));
}

void Autoscaler::Decide(std::string text) {
  if (!decisions_.empty() && decisions_.back().text == text) return;  // a tick repeating itself
  fmt::print(stderr, "autoscale: {}\n", text);
  decisions_.push_back({clock_.Now(), std::move(text)});
  if (decisions_.size() > kMaxDecisions) decisions_.erase(decisions_.begin());
  if (store_) unstored_.push_back(decisions_.back());
}

void Autoscaler::StoreDecisions() {
  if (!store_) return;
  std::vector<Decision> batch;
  {
    MutexLock lock(mu_);
    batch.swap(unstored_);
  }
  if (batch.empty()) return;
  Result<void> stored = store_->AddDecisions(batch, kStoredDecisions);
  if (stored) return;
  fmt::print(stderr, "autoscale: could not store {} decision(s) ({}); trying again next tick\n",
             batch.size(), stored.error().ToString());
  MutexLock lock(mu_);
  batch.insert(batch.end(), unstored_.begin(), unstored_.end());
  if (batch.size() > kMaxDecisions)
    batch.erase(batch.begin(), batch.end() - static_cast<ptrdiff_t>(kMaxDecisions));
  unstored_ = std::move(batch);
}

void Autoscaler::Backoff(const Error& e, std::string_view doing) {
  if (e.code == Code::kUnavailable) {
    backoff_ = std::clamp(backoff_ * 2, Millis(5'000), Millis(300'000));
  } else {
    backoff_ = Millis(300'000);
  }
  backoff_until_ = clock_.Now() + backoff_;
  Decide(fmt::format("{} failed ({}); next try in {} s", doing, e.ToString(),
                     backoff_.count() / 1000));
}

double Autoscaler::LivePrice() const {
  double sum = 0;
  for (const PodRecord& r : pods_)
    if (r.live()) sum += r.price_per_hour;
  return sum;
}

int Autoscaler::Live() const {
  return static_cast<int>(
      std::count_if(pods_.begin(), pods_.end(), [](const PodRecord& r) { return r.live(); }));
}

bool Autoscaler::TerminatePod(PodRecord& r, std::string state, std::string reason) {
  if (!r.id.empty()) {
    Result<void> done = provider_.Terminate(r.id);
    if (!done && done.error().code != Code::kNotFound) {
      Decide(fmt::format("terminating {} ({}) failed: {}; trying again next tick", r.name, reason,
                         done.error().ToString()));
      return false;
    }
  }
  r.state = std::move(state);
  r.reason = std::move(reason);
  r.ended = clock_.Now();
  Decide(fmt::format("terminated {} ({}, {}/h): {}", r.name, r.gpu, Dollars(r.price_per_hour),
                     r.reason));
  return true;
}

void Autoscaler::Fail(PodRecord& r, std::string reason, bool blame_gpu) {
  if (!TerminatePod(r, "failed", reason)) return;
  if (blame_gpu && failed_gpus_.insert(r.gpu).second)
    Decide(fmt::format("GPU type {} is not chosen again: a pod of it {}", r.gpu, reason));
}

void Autoscaler::Follow(PodRecord& r, const FleetSnapshot& fleet) {
  const auto node = std::find_if(fleet.nodes.begin(), fleet.nodes.end(),
                                 [&](const FleetSnapshot::Node& n) { return n.name == r.name; });
  const bool was_registered =
      r.state == "registered" || r.state == "working" || r.state == "draining";
  if (node != fleet.nodes.end() && node->blocked) {
    Fail(r, "registered blocked (its GPU failed the engine's checks here)", true);
  } else if (node != fleet.nodes.end() && node->online) {
    offline_since_.erase(r.name);
    if (r.state == "draining" && fleet.queued > 0) r.state = "working", r.reason.clear();
    if (node->jobs > 0 && r.state != "draining")
      r.state = "working";
    else if (r.state != "draining")
      r.state = "registered";
  } else if (was_registered) {
    // Silent workers may only be reconnecting (to a restarted coordinator): give them a while.
    const TimePoint since = offline_since_.try_emplace(r.name, clock_.Now()).first->second;
    if (clock_.Now() - since >= options_.offline_grace) {
      offline_since_.erase(r.name);
      Fail(r, "died: its worker went offline", false);
    }
  } else if (clock_.Now() - r.created > options_.setup_deadline) {
    Fail(r,
         fmt::format("did not register within the setup deadline ({} s)",
                     options_.setup_deadline.count() / 1000),
         true);
  }
}

void Autoscaler::Reconcile(const std::vector<PodInfo>& listed, const FleetSnapshot& fleet) {
  std::map<std::string, const PodInfo*> ours;
  for (const PodInfo& p : listed)
    if (p.name.starts_with(options_.name_prefix)) ours[p.name] = &p;
  for (const auto& [name, p] : ours) {
    auto rec = std::find_if(pods_.begin(), pods_.end(),
                            [&](const PodRecord& r) { return r.name == name; });
    if (rec == pods_.end()) {
      if (p->status == "terminated") continue;
      PodRecord r{name,        p->id,
                  p->gpu_type, p->price_per_hour,
                  "starting",  "adopted: created before a restart",
                  clock_.Now()};
      r.adopted = true;
      pods_.push_back(r);
      Decide(fmt::format("adopted {} ({}, {}/h), a pod of ours the records lacked", name,
                         p->gpu_type, Dollars(p->price_per_hour)));
    } else if (rec->id.empty() && rec->live()) {
      rec->id = p->id;
      Decide(fmt::format("found {} ({}): its create call's answer was lost", name, p->id));
    }
  }
  for (PodRecord& r : pods_) {
    if (!r.live()) continue;
    auto it = ours.find(r.name);
    if (it == ours.end()) {
      if (r.id.empty()) {
        r.state = "failed", r.reason = "the create call left no pod", r.ended = r.created;
        Decide(fmt::format("{}: {}", r.name, r.reason));
      } else {
        TerminatePod(r, "failed", "died: the pod is gone from the provider's list");
      }
      continue;
    }
    const PodInfo& p = *it->second;
    if (p.status == "exited" || p.status == "terminated" || p.status == "dead") {
      TerminatePod(r, "failed", fmt::format("died: the provider reports it {}", p.status));
      continue;
    }
    if (p.price_per_hour > 0) r.price_per_hour = p.price_per_hour;
    if (r.state == "requested" && p.ready) r.state = "starting";
    Follow(r, fleet);
  }
}

int Autoscaler::Wanted(const FleetSnapshot& fleet) {
  const int64_t work = fleet.queued + fleet.running;
  int n = 0;
  std::string why;
  std::string basis;  // what the count rests on: a new basis is a decision even at the same count
  const bool plan_allowed =
      fleet.plan_gpu && !failed_gpus_.contains(*fleet.plan_gpu) &&
      std::any_of(options_.gpus.begin(), options_.gpus.end(),
                  [&](const std::string& g) { return SameGpu(g, *fleet.plan_gpu); });
  if (work == 0) {
    why = "nothing queued or running", basis = "empty";
  } else if (plan_allowed && fleet.plan_pods > 0) {
    n = fleet.plan_pods;
    why = fmt::format("the plan: {} x {} ({})", n, *fleet.plan_gpu, fleet.plan_reason);
    basis = "plan";
  } else if (plan_allowed) {
    // The plan's backlog is the queued audio: with every job leased it asks for no pod.
    n = std::max(1, Live());
    why = fmt::format("{} jobs, all leased (the plan counts only queued audio): keeping {} pod(s)",
                      work, n);
    basis = "leased";
  } else {
    n = std::max(1, Live());
    why =
        fmt::format("{} jobs and no allowed GPU type measured yet: {} pod(s) to measure", work, n);
    basis = "measure";
  }
  if (n > options_.max_pods) {
    n = options_.max_pods;
    why += fmt::format(", capped by --max-pods {}", options_.max_pods);
  }
  if (n > work) {
    n = static_cast<int>(work);
    why += fmt::format(", no more pods than the {} jobs", work);
  }
  if (n != wanted_ || basis != last_basis_) Decide(fmt::format("want {} pod(s): {}", n, why));
  last_basis_ = basis;
  return n;
}

std::vector<std::string> Autoscaler::Candidates(const FleetSnapshot& fleet) {
  std::vector<std::string> order;
  if (fleet.plan_gpu) order.push_back(*fleet.plan_gpu);
  for (const std::string& g : options_.gpus) order.push_back(g);
  std::vector<std::string> out;
  for (const std::string& g : order) {
    const bool allowed = std::any_of(options_.gpus.begin(), options_.gpus.end(),
                                     [&](const std::string& a) { return SameGpu(a, g); });
    const bool seen =
        std::any_of(out.begin(), out.end(), [&](const std::string& a) { return SameGpu(a, g); });
    const bool blocked = std::any_of(fleet.blocked_gpus.begin(), fleet.blocked_gpus.end(),
                                     [&](const std::string& b) { return SameGpu(b, g); });
    bool no_cloud_left = true;  // a loop, not std::all_of: the analysis cannot see into lambdas
    for (const std::string& c : options_.clouds)
      no_cloud_left = no_cloud_left && LacksCapacity(g, c);
    if (!allowed || seen || blocked || failed_gpus_.contains(g) || no_cloud_left) continue;
    out.push_back(g);
  }
  return out;
}

bool Autoscaler::LacksCapacity(const std::string& gpu, const std::string& cloud) const {
  auto it = no_capacity_.find(gpu + "@" + cloud);
  return it != no_capacity_.end() && it->second > clock_.Now();
}

bool Autoscaler::CreateOnSomeCloud(const GpuOffer& offer, const std::string& gpu, bool more) {
  std::vector<std::string> clouds;
  for (const std::string& c : options_.clouds)
    if (!LacksCapacity(gpu, c)) clouds.push_back(c);
  for (size_t i = 0; i < clouds.size(); ++i) {
    const std::string& cloud = clouds[i];
    const double price = *offer.PriceOn(cloud);
    if (LivePrice() + price > options_.budget_per_hour + 1e-9) {
      Decide(fmt::format("budget: another {} pod{} ({}/h) would make {}/h, over --budget {}/h", gpu,
                         cloud == "ALL" ? "" : " on " + cloud, Dollars(price),
                         Dollars(LivePrice() + price), Dollars(options_.budget_per_hour)));
      continue;
    }
    const std::string next = i + 1 < clouds.size() ? "the " + clouds[i + 1] + " cloud"
                             : more                ? "the next GPU type"
                                                   : "again later";
    if (CreateOne(offer, gpu, cloud, next)) return true;
    if (clock_.Now() < backoff_until_) return false;
  }
  return false;
}

bool Autoscaler::CreateOne(const GpuOffer& offer, const std::string& gpu, const std::string& cloud,
                           std::string_view next) {
  const std::string name =
      fmt::format("{}{}-{}", options_.name_prefix, ToUnixMillis(clock_.Now()) / 1000, ++serial_);
  const double price = *offer.PriceOn(cloud);
  pods_.push_back({name, "", offer.name, price, "requested", "", clock_.Now()});
  pods_.back().cloud = cloud;
  Save();  // before the call: a crash during it leaves a record the next list resolves
  PodSpec spec;
  spec.name = name;
  spec.gpu_type = offer.id;
  spec.cloud = cloud;
  spec.image = options_.image;
  spec.container_disk_gb = options_.container_disk_gb;
  spec.cuda_versions = options_.cuda_versions;
  spec.env = {{"PODFLEET_SERVER", options_.server_url},
              {"PODFLEET_TOKEN", options_.token},
              {"PODFLEET_POD_NAME", name}};
  spec.command =
      PodCommand(options_.join_command, name, options_.exit_when_idle.count() / 1000, price);
  Result<PodInfo> pod = provider_.Create(spec);
  PodRecord& r = pods_.back();
  if (!pod) {
    const Error& e = pod.error();
    if (IsNoCapacity(e)) {
      no_capacity_[gpu + "@" + cloud] = clock_.Now() + options_.capacity_retry;
      Decide(fmt::format("no {} available{} ({}); trying {}", offer.name,
                         cloud == "ALL" ? "" : " on the " + cloud + " cloud", e.message, next));
    } else if (e.code == Code::kUnavailable) {
      r.reason = "create unanswered: " + e.message;
      Backoff(e, "create " + name);
      return false;  // the record stays until a list shows whether the pod exists
    } else {
      Backoff(e, "create " + name);
    }
    pods_.pop_back();
    return false;
  }
  r.id = pod->id;
  if (pod->price_per_hour > 0) r.price_per_hour = pod->price_per_hour;
  r.state = pod->ready ? "starting" : "requested";
  Decide(fmt::format("created {} ({}{}, {}/h, id {}); live pods now cost {}/h of {}/h", name,
                     offer.name, cloud == "ALL" ? "" : ", " + cloud, Dollars(r.price_per_hour),
                     r.id, Dollars(LivePrice()), Dollars(options_.budget_per_hour)));
  return true;
}

void Autoscaler::ScaleUp(int wanted, const FleetSnapshot& fleet) {
  Result<std::vector<GpuOffer>> offers = provider_.GpuTypes();
  if (!offers) return Backoff(offers.error(), "read GPU types and prices");
  while (Live() < wanted) {
    bool made = false;
    const std::vector<std::string> gpus = Candidates(fleet);
    for (size_t i = 0; i < gpus.size(); ++i) {
      const std::string& gpu = gpus[i];
      const GpuOffer* offer = FindOffer(*offers, gpu);
      if (!offer || !offer->available()) {
        for (const std::string& cloud : options_.clouds)
          no_capacity_[gpu + "@" + cloud] = clock_.Now() + options_.capacity_retry;
        Decide(fmt::format("{} is not offered now ({}); trying the next GPU type", gpu,
                           offer ? "stock " + offer->stock : "unknown to the provider"));
        continue;
      }
      made = CreateOnSomeCloud(*offer, gpu, i + 1 < gpus.size());
      if (made || clock_.Now() < backoff_until_) break;
    }
    if (!made) return;
  }
}

void Autoscaler::ScaleDown(int wanted, const FleetSnapshot& fleet) {
  // While jobs wait, every pod will get one soon: none is surplus yet (the plan's count moves
  // with each job done, and a pod terminated now might be wanted again a tick later).
  if (fleet.queued > 0) return;
  const bool empty = fleet.running == 0;
  // Pods that have not joined go first, then idle ones; working pods drain.
  int surplus = Live() - wanted;
  for (PodRecord& r : pods_)  // a drain already counted, until its jobs are done
    if (r.live() && r.state == "draining" && JobsOf(fleet, r.name) > 0) --surplus;
  for (const char* state : {"requested", "starting", "registered", "draining", "working"}) {
    for (PodRecord& r : pods_) {
      if (surplus <= 0) return;
      if (!r.live() || r.state != state) continue;
      if (JobsOf(fleet, r.name) > 0) {
        if (r.state == "draining") continue;
        r.state = "draining";
        r.reason = "surplus: terminated once its jobs are done";
        Decide(fmt::format("draining {}: {}", r.name, r.reason));
        --surplus;
        continue;
      }
      if (TerminatePod(r, "terminated",
                       empty ? "nothing queued or running"
                             : fmt::format("surplus: nothing queued, want {}", wanted)))
        --surplus;
    }
  }
}

void Autoscaler::Tick(const FleetSnapshot& fleet) {
  {
    MutexLock lock(mu_);
    TickLocked(fleet);
  }
  StoreDecisions();
}

void Autoscaler::TickLocked(const FleetSnapshot& fleet) {
  if (clock_.Now() < backoff_until_) return;
  Result<std::vector<PodInfo>> listed = provider_.List();
  if (!listed) return Backoff(listed.error(), "list pods");
  backoff_ = Millis(0);
  Reconcile(*listed, fleet);
  wanted_ = Wanted(fleet);
  if (Live() < wanted_)
    ScaleUp(wanted_, fleet);
  else if (Live() > wanted_)
    ScaleDown(wanted_, fleet);
  Save();
}

void Autoscaler::Run(const std::function<Result<FleetSnapshot>()>& snapshot,
                     const std::stop_token& stop, const std::function<bool()>& may_tick) {
  do {
    if (may_tick && !may_tick()) continue;
    Result<FleetSnapshot> fleet = snapshot();
    if (fleet) {
      Tick(*fleet);
    } else {
      {
        MutexLock lock(mu_);
        Decide("could not read the fleet: " + fleet.error().ToString());
      }
      StoreDecisions();
    }
  } while (clock_.WaitUntil(clock_.Now() + options_.interval, stop));
}

AutoscaleStatus Autoscaler::Status() const {
  // Read before taking the lock: a decision leaves unstored_ only once the tick's thread stores
  // it, so none is shown twice (one stored meanwhile shows from the next call on).
  std::optional<std::vector<Decision>> stored;
  if (store_) {
    auto r = store_->ListDecisions(static_cast<int>(kMaxDecisions));
    if (r) stored = std::move(*r);
  }
  MutexLock lock(mu_);
  AutoscaleStatus s;
  s.provider = provider_.name();
  s.options = options_;
  s.options.token.clear();
  s.options.join_command.clear();
  s.pods = pods_;
  if (stored) {
    s.decisions = std::move(*stored);
    s.decisions.insert(s.decisions.end(), unstored_.begin(), unstored_.end());
    if (s.decisions.size() > kMaxDecisions)
      s.decisions.erase(s.decisions.begin(),
                        s.decisions.end() - static_cast<ptrdiff_t>(kMaxDecisions));
  } else {
    s.decisions = decisions_;
  }
  s.wanted = wanted_;
  const TimePoint now = clock_.Now();
  for (const PodRecord& r : pods_) {
    s.spend += r.price_per_hour * Hours(r.ended.value_or(now) - r.created);
    if (r.live()) s.spend_per_hour += r.price_per_hour;
  }
  return s;
}

}  // namespace podfleet

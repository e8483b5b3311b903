#include "engines/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono_literals::operator""s;

std::unique_ptr<ChildProcess> Shell(const std::string& script) {
  auto child = ChildProcess::Start({{"/bin/sh", "-c", script}});
  EXPECT_TRUE(child) << child.error().ToString();
  return child ? std::move(*child) : nullptr;
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(ChildProcess, CollectsStdoutExitCodeAndStderrLines) {
  auto child = Shell("echo out1; echo err1 >&2; printf 'err2\\nerr3' >&2; echo out2; exit 7");
  std::vector<std::string> lines;
  auto r = child->Wait(Millis(0), {}, [&](std::string_view l) { lines.emplace_back(l); });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->signal, 0);
  EXPECT_EQ(r->out, "out1\nout2\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"err1", "err2", "err3"}));
  EXPECT_EQ(r->stderr_tail, "err1\nerr2\nerr3");
}

TEST(ChildProcess, PassesEnvironment) {
  auto child = ChildProcess::Start(
      {{"/bin/sh", "-c", "printf %s \"$PODFLEET_X\""}, {{"PODFLEET_X", "a b"}}});
  ASSERT_TRUE(child);
  auto r = (*child)->Wait(Millis(0), {}, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "a b");
}

TEST(ChildProcess, MissingProgramIsNotFound) {
  auto child = ChildProcess::Start({{"/nonexistent/program"}});
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().code, Code::kNotFound);
}

TEST(ChildProcess, TimeoutKillsTheWholeGroup) {
  // The shell's own child (sleep) must die too, or it would hold the pipes open.
  auto child = Shell("sleep 30 & echo $!; wait");
  const auto started = Clock::now();
  auto r = child->Wait(Millis(300), {}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_FALSE(Alive(child->pid()));
}

TEST(ChildProcess, StopCancels) {
  auto child = Shell("sleep 30");
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.request_stop();
  });
  auto r = child->Wait(Millis(0), stop.get_token(), {});
  stopper.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cancelled");
  EXPECT_FALSE(Alive(child->pid()));
}

TEST(ChildProcess, DestructionKillsAndReaps) {
  pid_t pid = 0;
  {
    auto child = Shell("sleep 30");
    pid = child->pid();
    EXPECT_TRUE(Alive(pid));
  }
  EXPECT_FALSE(Alive(pid));  // reaped: not even a zombie
}

TEST(ChildProcess, ReportsTheKillingSignal) {
  auto child = Shell("kill -TERM $$");
  auto r = child->Wait(Millis(0), {}, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(ChildProcess, TooMuchStdoutIsRefused) {
  ChildOptions options{{"/bin/sh", "-c", "yes"}};
  options.max_stdout_bytes = 100'000;
  auto child = ChildProcess::Start(options);
  ASSERT_TRUE(child);
  auto r = (*child)->Wait(Millis(0), {}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet

// Clang thread-safety annotations, and a mutex and scoped lock that carry them.
//
// libstdc++'s std::mutex and std::lock_guard are not annotated, so shared state is guarded by a
// podfleet::Mutex and locked with a MutexLock. With clang and -Wthread-safety (the clang build in
// scripts/check-threads) the compiler then proves that every GUARDED_BY member is touched only
// with its mutex held; with any other compiler the macros expand to nothing and the types cost
// what std::mutex costs.
//
//   Mutex mu_;
//   std::condition_variable_any changed_;  // waits on a MutexLock
//   std::deque<Job> queue_ GUARDED_BY(mu_);
//
//   MutexLock lock(mu_);
//   changed_.wait(lock, [this]() REQUIRES(mu_) { return !queue_.empty(); });
//
// A lambda that reads guarded state while its caller holds the lock (a wait predicate) says so
// with REQUIRES after its parameter list.
#pragma once

#include <mutex>

#if defined(__clang__)
#define PODFLEET_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define PODFLEET_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) PODFLEET_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY PODFLEET_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) PODFLEET_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) PODFLEET_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) PODFLEET_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) PODFLEET_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) PODFLEET_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) PODFLEET_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) PODFLEET_THREAD_ANNOTATION(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS PODFLEET_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace podfleet {

// A std::mutex the analysis knows as a capability. Not recursive.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis the caller holds the mutex (checked by nothing at run time).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope. It may be unlocked and locked again inside the scope, and it is
// the lock that std::condition_variable_any waits on (it unlocks and relocks it while waiting).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  void unlock() RELEASE() {
    held_ = false;
    mu_.unlock();
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

}  // namespace podfleet

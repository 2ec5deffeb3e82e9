// ThreadSanitizer annotations for Debian's prebuilt (uninstrumented) Abseil synchronization.
//
// Why: absl::Mutex and absl::Notification are implemented in libabsl_synchronization.so with
// atomics and futexes. Abseil annotates them for TSan, but only when Abseil itself is compiled
// with -fsanitize=thread; Debian's build is not, so TSan sees none of the happens-before edges
// they create, and every access our code makes under an absl::Mutex (the job queue, the thread
// pool, the service's admission counter, the registry) would be reported as a race.
//
// How: the TSan test binaries are linked with -Wl,--wrap=<symbol> for the functions below
// (tests/CMakeLists.txt lists them), which sends our code's calls to the __wrap_ functions
// here. Each calls the real function and tells TSan what it did, with TSan's public mutex
// annotation API: a lock acquires, an unlock releases, an Await releases while it waits and
// acquires when it returns (the condition, which Abseil may evaluate on any thread inside
// these calls, runs while TSan ignores accesses, as in Abseil's own annotations), a
// Notification's Notify releases and a successful wait acquires. Nothing is suppressed: this
// only restores the synchronization the sanitizer cannot see. (Destruction is not annotated:
// freeing the memory resets TSan's state for it, and gRPC's inline code destroys its own
// reactors' mutexes under synchronization TSan cannot see.) Only calls from our own
// (instrumented, statically linked) code are wrapped; gRPC's use of Abseil inside its shared
// libraries is uninstrumented and invisible to TSan either way.
#include <sanitizer/tsan_interface.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#ifndef STYLE_ABSL_NS
#error "STYLE_ABSL_NS must be Abseil's mangled inline namespace, e.g. \"7debian3\" (tests/CMakeLists.txt)"
#endif

// The real and wrapped symbols of `name` (mangled after "_ZN4absl" or "_ZNK4absl" + namespace).
#define STYLE_REAL(prefix, name) __asm__("__real_" prefix "4absl" STYLE_ABSL_NS name)
#define STYLE_WRAP(prefix, name) __asm__("__wrap_" prefix "4absl" STYLE_ABSL_NS name)

using absl::Condition;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

extern "C" {

void RealLock(Mutex* mu) STYLE_REAL("_ZN", "5Mutex4LockEv");
void RealUnlock(Mutex* mu) STYLE_REAL("_ZN", "5Mutex6UnlockEv");
bool RealTryLock(Mutex* mu) STYLE_REAL("_ZN", "5Mutex7TryLockEv");
void RealReaderLock(Mutex* mu) STYLE_REAL("_ZN", "5Mutex10ReaderLockEv");
void RealReaderUnlock(Mutex* mu) STYLE_REAL("_ZN", "5Mutex12ReaderUnlockEv");
void RealAwait(Mutex* mu, const Condition& c) STYLE_REAL("_ZN", "5Mutex5AwaitERKNS0_9ConditionE");
bool RealAwaitWithTimeout(Mutex* mu, const Condition& c, Duration d)
    STYLE_REAL("_ZN", "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
bool RealAwaitWithDeadline(Mutex* mu, const Condition& c, Time t)
    STYLE_REAL("_ZN", "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
void RealLockWhen(Mutex* mu, const Condition& c) STYLE_REAL("_ZN", "5Mutex8LockWhenERKNS0_9ConditionE");
bool RealLockWhenWithTimeout(Mutex* mu, const Condition& c, Duration d)
    STYLE_REAL("_ZN", "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
bool RealLockWhenWithDeadline(Mutex* mu, const Condition& c, Time t)
    STYLE_REAL("_ZN", "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
void RealNotify(Notification* n) STYLE_REAL("_ZN", "12Notification6NotifyEv");
void RealWaitForNotification(const Notification* n) STYLE_REAL("_ZNK", "12Notification19WaitForNotificationEv");
bool RealWaitForNotificationWithTimeout(const Notification* n, Duration d)
    STYLE_REAL("_ZNK", "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
bool RealWaitForNotificationWithDeadline(const Notification* n, Time t)
    STYLE_REAL("_ZNK", "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");

void WrapLock(Mutex* mu) STYLE_WRAP("_ZN", "5Mutex4LockEv");
void WrapUnlock(Mutex* mu) STYLE_WRAP("_ZN", "5Mutex6UnlockEv");
bool WrapTryLock(Mutex* mu) STYLE_WRAP("_ZN", "5Mutex7TryLockEv");
void WrapReaderLock(Mutex* mu) STYLE_WRAP("_ZN", "5Mutex10ReaderLockEv");
void WrapReaderUnlock(Mutex* mu) STYLE_WRAP("_ZN", "5Mutex12ReaderUnlockEv");
void WrapAwait(Mutex* mu, const Condition& c) STYLE_WRAP("_ZN", "5Mutex5AwaitERKNS0_9ConditionE");
bool WrapAwaitWithTimeout(Mutex* mu, const Condition& c, Duration d)
    STYLE_WRAP("_ZN", "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
bool WrapAwaitWithDeadline(Mutex* mu, const Condition& c, Time t)
    STYLE_WRAP("_ZN", "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
void WrapLockWhen(Mutex* mu, const Condition& c) STYLE_WRAP("_ZN", "5Mutex8LockWhenERKNS0_9ConditionE");
bool WrapLockWhenWithTimeout(Mutex* mu, const Condition& c, Duration d)
    STYLE_WRAP("_ZN", "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
bool WrapLockWhenWithDeadline(Mutex* mu, const Condition& c, Time t)
    STYLE_WRAP("_ZN", "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
void WrapNotify(Notification* n) STYLE_WRAP("_ZN", "12Notification6NotifyEv");
void WrapWaitForNotification(const Notification* n) STYLE_WRAP("_ZNK", "12Notification19WaitForNotificationEv");
bool WrapWaitForNotificationWithTimeout(const Notification* n, Duration d)
    STYLE_WRAP("_ZNK", "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
bool WrapWaitForNotificationWithDeadline(const Notification* n, Time t)
    STYLE_WRAP("_ZNK", "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");

}  // extern "C"

namespace {

// Accesses inside the real call are ignored (pre_* starts ignoring, post_* stops), so that
// Abseil's own bookkeeping and condition evaluation on behalf of other threads are not seen.
void Acquired(Mutex* mu, unsigned flags = 0) {
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
}

// Runs `wait`, which releases `mu` while it blocks and holds it again when it returns.
template <typename Wait>
auto ReleasedDuring(Mutex* mu, Wait wait) {
  __tsan_mutex_pre_unlock(mu, 0);
  auto result = wait();
  __tsan_mutex_post_unlock(mu, 0);
  Acquired(mu);
  return result;
}

}  // namespace

extern "C" {

void WrapLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  RealLock(mu);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void WrapUnlock(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  RealUnlock(mu);
  __tsan_mutex_post_unlock(mu, 0);
}

bool WrapTryLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_try_lock);
  const bool locked = RealTryLock(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void WrapReaderLock(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_read_lock);
  RealReaderLock(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_read_lock, 0);
}

void WrapReaderUnlock(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, __tsan_mutex_read_lock);
  RealReaderUnlock(mu);
  __tsan_mutex_post_unlock(mu, __tsan_mutex_read_lock);
}

void WrapAwait(Mutex* mu, const Condition& c) {
  ReleasedDuring(mu, [&] {
    RealAwait(mu, c);
    return true;
  });
}

bool WrapAwaitWithTimeout(Mutex* mu, const Condition& c, Duration d) {
  return ReleasedDuring(mu, [&] { return RealAwaitWithTimeout(mu, c, d); });
}

bool WrapAwaitWithDeadline(Mutex* mu, const Condition& c, Time t) {
  return ReleasedDuring(mu, [&] { return RealAwaitWithDeadline(mu, c, t); });
}

void WrapLockWhen(Mutex* mu, const Condition& c) {
  __tsan_mutex_pre_lock(mu, 0);
  RealLockWhen(mu, c);
  __tsan_mutex_post_lock(mu, 0, 0);
}

bool WrapLockWhenWithTimeout(Mutex* mu, const Condition& c, Duration d) {
  __tsan_mutex_pre_lock(mu, 0);
  const bool met = RealLockWhenWithTimeout(mu, c, d);  // holds the lock either way
  __tsan_mutex_post_lock(mu, 0, 0);
  return met;
}

bool WrapLockWhenWithDeadline(Mutex* mu, const Condition& c, Time t) {
  __tsan_mutex_pre_lock(mu, 0);
  const bool met = RealLockWhenWithDeadline(mu, c, t);
  __tsan_mutex_post_lock(mu, 0, 0);
  return met;
}

void WrapNotify(Notification* n) {
  __tsan_release(n);
  RealNotify(n);
}

void WrapWaitForNotification(const Notification* n) {
  RealWaitForNotification(n);
  __tsan_acquire(const_cast<Notification*>(n));
}

bool WrapWaitForNotificationWithTimeout(const Notification* n, Duration d) {
  const bool notified = RealWaitForNotificationWithTimeout(n, d);
  if (notified) __tsan_acquire(const_cast<Notification*>(n));
  return notified;
}

bool WrapWaitForNotificationWithDeadline(const Notification* n, Time t) {
  const bool notified = RealWaitForNotificationWithDeadline(n, t);
  if (notified) __tsan_acquire(const_cast<Notification*>(n));
  return notified;
}

}  // extern "C"

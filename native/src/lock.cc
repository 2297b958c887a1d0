// flock(2) for the per-host writer lock. Node has no flock; a pid file alone cannot tell
// a dead holder from a live one whose pid was reused, while an flock is released by the
// kernel when its holder exits in any way, SIGKILL included.
#include "lock.h"

#include <sys/file.h>

#include <cerrno>

namespace sluice {

// tryLockExclusive(fd): true when this process now holds the lock, false when another
// holds it. Non-blocking: the caller reports the holder instead of waiting.
Napi::Value TryLockExclusive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "tryLockExclusive(fd): fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  return ThrowSysError(env, SysFailure::fromErrno("flock"));
}

}  // namespace sluice

// An inotify watch on one directory, drained without blocking: which entries changed
// since the last drain. serve's CNI source reads again only the records named here,
// instead of a stat of every record per load. Read synchronously (not through libuv's
// fs.watch) for two reasons: a change another process made before the drain is queued
// by then (inotify queues in the writer's system call), so a drain right before a load
// misses nothing; and an overflow of the kernel's queue (IN_Q_OVERFLOW), which fs.watch
// drops silently, is reported, so the caller reads everything again.

#include "dirwatch.h"

#include <errno.h>
#include <limits.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace sluice {

namespace {

// Every way an entry's content or identity changes: created, written (in place), renamed
// in or out, removed, its attributes; and the directory itself going away.
constexpr uint32_t kWatchMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |
                                IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

Napi::Value OpenDirWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowTypeError(env, "openDirWatch(path)");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path[0] != '/') return ThrowTypeError(env, "openDirWatch(path): path must be absolute");
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return ThrowSysError(env, SysFailure::fromErrno("inotify_init1"));
  if (inotify_add_watch(fd, path.c_str(), kWatchMask) < 0) {
    SysFailure failure = SysFailure::fromErrno("inotify_add_watch", path);
    close(fd);
    return ThrowSysError(env, failure);
  }
  return Napi::Number::New(env, fd);
}

// { names: entries named by an event (repeats possible), overflowed: the kernel dropped
// events, gone: the directory was removed or moved (the watch sees nothing more) }.
Napi::Value DrainDirWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "drainDirWatch(fd)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  alignas(struct inotify_event) char buffer[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
  std::vector<std::string> names;
  bool overflowed = false;
  bool gone = false;
  for (;;) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (got < 0) return ThrowSysError(env, SysFailure::fromErrno("read"));
    if (got == 0) break;
    for (ssize_t at = 0; at < got;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(buffer + at);
      if (event->mask & IN_Q_OVERFLOW) overflowed = true;
      if (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) gone = true;
      if (event->len > 0) names.emplace_back(event->name);
      at += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
    }
  }
  Napi::Array list = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  Napi::Object result = Napi::Object::New(env);
  result.Set("names", list);
  result.Set("overflowed", Napi::Boolean::New(env, overflowed));
  result.Set("gone", Napi::Boolean::New(env, gone));
  return result;
}

}  // namespace sluice

// Named network namespaces the way iproute2 makes them, plus sysctls read and written
// from inside a namespace.
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace sluice {
namespace {

const char kNetnsRunDir[] = "/run/netns";

bool IsValidNetnsName(const std::string& name) {
  return !name.empty() && name.size() < 256 && name != "." && name != ".." &&
         name.find('/') == std::string::npos;
}

// iproute2's netns_add: /run/netns must be a shared mount so that namespace bind
// mounts made later propagate to every mount namespace (e.g. one `ip netns exec` made).
// If it is not a mount point yet, MS_SHARED fails with EINVAL: bind it onto itself once.
SysFailure EnsureSharedRunDir() {
  if (mkdir(kNetnsRunDir, 0755) != 0 && errno != EEXIST) {
    return SysFailure::fromErrno("mkdir", kNetnsRunDir);
  }
  bool boundOnItself = false;
  while (mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || boundOnItself) return SysFailure::fromErrno("mount", kNetnsRunDir);
    if (mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      return SysFailure::fromErrno("mount", kNetnsRunDir);
    }
    boundOnItself = true;
  }
  return SysFailure{};
}

SysFailure CreateEmptyFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return SysFailure::fromErrno("open", path);
  close(fd);
  return SysFailure{};
}

// Keys are dotted as sysctl(8) writes them: "." separates path components and "/" stands
// for a "." inside one (a device name such as "br.0": net.ipv4.conf.br/0.forwarding).
bool IsValidSysctlKey(const std::string& key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  if (key.find("..") != std::string::npos) return false;
  // No component may be "." or ".." once "/" becomes "." (a key must stay under /proc/sys).
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('.', start);
    if (end == std::string::npos) end = key.size();
    const std::string part = key.substr(start, end - start);
    if (part == "/" || part == "//") return false;
    start = end + 1;
  }
  return true;
}

std::string SysctlPath(const std::string& key) {
  std::string path = "/proc/sys/" + key;
  for (size_t i = 10; i < path.size(); ++i) {
    if (path[i] == '.') path[i] = '/';
    else if (path[i] == '/') path[i] = '.';
  }
  return path;
}

SysFailure WriteWholeFile(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SysFailure::fromErrno("open", path);
  ssize_t written;
  do {
    written = write(fd, value.data(), value.size());
  } while (written < 0 && errno == EINTR);
  SysFailure failure = written < 0 ? SysFailure::fromErrno("write", path) : SysFailure{};
  close(fd);
  return failure;
}

SysFailure ReadWholeFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SysFailure::fromErrno("open", path);
  char buffer[4096];
  for (;;) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      SysFailure failure = SysFailure::fromErrno("read", path);
      close(fd);
      return failure;
    }
    if (got == 0) break;
    out->append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  while (!out->empty() && out->back() == '\n') out->pop_back();
  return SysFailure{};
}

const char kDisableIpv6[] = "/proc/sys/net/ipv6/conf/all/disable_ipv6";

// "all" also sets "default", so lo now and every device added later start without IPv6
// (no addrconf, no DAD timers). A kernel built without IPv6 has no such file: already so.
// One path walk only: /proc/sys lookups get slower with every namespace on the machine.
SysFailure DisableIpv6InCurrentNetns() {
  SysFailure written = WriteWholeFile(kDisableIpv6, "1");
  return written.err == ENOENT ? SysFailure{} : written;
}

const char kAddrGenMode[] = "/proc/sys/net/ipv6/conf/default/addr_gen_mode";

// IPv6 on, but devices added later get no address of their own: no link-local address,
// so no DAD, no router solicitation and none of their timers (addr_gen_mode 1 = none).
// Only the addresses the caller assigns (nodad) exist; lo keeps ::1.
SysFailure StopIpv6AutoconfInCurrentNetns() {
  return WriteWholeFile(kAddrGenMode, "1");
}

// A new namespace's lo is down. One ioctl from the thread already inside, instead of a
// link request per namespace later (a thousand containers, a thousand requests).
SysFailure BringLoopbackUpInCurrentNetns() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysFailure::fromErrno("socket", "lo");
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  SysFailure failure;
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    failure = SysFailure::fromErrno("ioctl SIOCGIFFLAGS", "lo");
  } else {
    request.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) failure = SysFailure::fromErrno("ioctl SIOCSIFFLAGS", "lo");
  }
  close(fd);
  return failure;
}

// Runs on a throwaway thread: only that thread gets the new namespace, and the bind
// mount keeps the namespace alive after the thread exits. The thread is already inside,
// so an IPv4-only namespace and its lo up cost a write and an ioctl here rather than a
// thread or a request of their own later.
SysFailure UnshareAndBind(const std::string& path, bool ipv6, bool loopbackUp, bool autoconf) {
  if (unshare(CLONE_NEWNET) != 0) return SysFailure::fromErrno("unshare", path);
  if (!ipv6) {
    SysFailure disabled = DisableIpv6InCurrentNetns();
    if (disabled.failed()) return disabled;
  } else if (!autoconf) {
    SysFailure stopped = StopIpv6AutoconfInCurrentNetns();
    if (stopped.failed()) return stopped;
  }
  if (loopbackUp) {
    SysFailure up = BringLoopbackUpInCurrentNetns();
    if (up.failed()) return up;
  }
  if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
    return SysFailure::fromErrno("mount", path);
  }
  return SysFailure{};
}

bool StringArg(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  if (info.Length() <= index || !info[index].IsString()) return false;
  *out = info[index].As<Napi::String>().Utf8Value();
  return true;
}

}  // namespace

Napi::Value CreateNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  const bool autoconfGiven = info.Length() >= 4;
  if (!StringArg(info, 0, &name) || !IsValidNetnsName(name) || info.Length() < 3 || !info[1].IsBoolean() || !info[2].IsBoolean() || (autoconfGiven && !info[3].IsBoolean())) {
    return ThrowTypeError(env, "createNetns(name, ipv6, loopbackUp[, autoconf]): name must be a non-empty string without '/', ipv6, loopbackUp and autoconf booleans");
  }
  const bool ipv6 = info[1].As<Napi::Boolean>().Value();
  const bool loopbackUp = info[2].As<Napi::Boolean>().Value();
  const bool autoconf = autoconfGiven ? info[3].As<Napi::Boolean>().Value() : true;
  const std::string path = std::string(kNetnsRunDir) + "/" + name;
  SysFailure failure = EnsureSharedRunDir();
  if (failure.failed()) return ThrowSysError(env, failure);
  failure = CreateEmptyFile(path);
  if (failure.failed()) return ThrowSysError(env, failure);
  failure = RunOnFreshThread([&path, ipv6, loopbackUp, autoconf]() { return UnshareAndBind(path, ipv6, loopbackUp, autoconf); });
  if (failure.failed()) {
    umount2(path.c_str(), MNT_DETACH);
    unlink(path.c_str());
    return ThrowSysError(env, failure);
  }
  return Napi::String::New(env, path);
}

Napi::Value DeleteNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!StringArg(info, 0, &name) || !IsValidNetnsName(name)) {
    return ThrowTypeError(env, "deleteNetns(name): name must be a non-empty string without '/'");
  }
  const std::string path = std::string(kNetnsRunDir) + "/" + name;
  // EINVAL: the file exists but is not a mount point (a half-made namespace); unlink it anyway.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ThrowSysError(env, SysFailure::fromErrno("umount2", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ThrowSysError(env, SysFailure::fromErrno("unlink", path));
  }
  return env.Undefined();
}

Napi::Value OpenNetnsFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!StringArg(info, 0, &path) || path.empty() || path[0] != '/') {
    return ThrowTypeError(env, "openNetnsFd(path): path must be absolute");
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ThrowSysError(env, SysFailure::fromErrno("open", path));
  return Napi::Number::New(env, fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "closeFd(fd): fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  // No retry on EINTR: on Linux the descriptor is released even when close() is interrupted.
  if (close(fd) != 0 && errno != EINTR) return ThrowSysError(env, SysFailure::fromErrno("close"));
  return env.Undefined();
}

Napi::Value WriteSysctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns, key, value;
  if (!StringArg(info, 0, &netns) || !StringArg(info, 1, &key) || !StringArg(info, 2, &value)) {
    return ThrowTypeError(env, "writeSysctl(netnsPath, key, value): all arguments must be strings");
  }
  if (!IsValidSysctlKey(key)) return ThrowTypeError(env, "writeSysctl: invalid sysctl key '" + key + "'");
  const std::string path = SysctlPath(key);
  SysFailure failure = RunOnFreshThread([&]() {
    SysFailure entered = EnterNetns(netns);
    return entered.failed() ? entered : WriteWholeFile(path, value);
  });
  if (failure.failed()) return ThrowSysError(env, failure);
  return env.Undefined();
}

Napi::Value ReadSysctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns, key;
  if (!StringArg(info, 0, &netns) || !StringArg(info, 1, &key)) {
    return ThrowTypeError(env, "readSysctl(netnsPath, key): all arguments must be strings");
  }
  if (!IsValidSysctlKey(key)) return ThrowTypeError(env, "readSysctl: invalid sysctl key '" + key + "'");
  const std::string path = SysctlPath(key);
  std::string content;
  SysFailure failure = RunOnFreshThread([&]() {
    SysFailure entered = EnterNetns(netns);
    return entered.failed() ? entered : ReadWholeFile(path, &content);
  });
  if (failure.failed()) return ThrowSysError(env, failure);
  return Napi::String::New(env, content);
}

}  // namespace sluice

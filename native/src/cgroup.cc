// Mounting a cgroup v1 controller: Node has no mount(2). Only net_cls is ever asked for;
// the controller name is checked so this cannot be used to mount anything else.
#include "cgroup.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "common.h"

namespace sluice {

namespace {

bool MkdirP(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i == path.size() || path[i] == '/') {
      const std::string part = path.substr(0, i);
      if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

}  // namespace

Napi::Value MountCgroupV1(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    return ThrowTypeError(env, "mountCgroupV1(controller, target): two strings");
  }
  const std::string controller = info[0].As<Napi::String>().Utf8Value();
  const std::string target = info[1].As<Napi::String>().Utf8Value();
  if (controller != "net_cls" || target.empty() || target[0] != '/') {
    return ThrowTypeError(env, "mountCgroupV1: only net_cls, at an absolute path");
  }
  if (!MkdirP(target)) return ThrowSysError(env, SysFailure::fromErrno("mkdir", target));
  if (mount(controller.c_str(), target.c_str(), "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, controller.c_str()) != 0) {
    return ThrowSysError(env, SysFailure::fromErrno("mount", target));
  }
  return env.Undefined();
}

}  // namespace sluice

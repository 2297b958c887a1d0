#pragma once

#include <napi.h>

namespace sluice {

// mountCgroupV1(controller, target): mkdir -p target, then mount the cgroup v1 hierarchy
// of `controller` there (Sluice mounts net_cls where it is not mounted).
Napi::Value MountCgroupV1(const Napi::CallbackInfo& info);

}  // namespace sluice

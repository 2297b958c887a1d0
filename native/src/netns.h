#pragma once

#include <napi.h>

#include "common.h"

namespace sluice {

Napi::Value CreateNetns(const Napi::CallbackInfo& info);
Napi::Value DeleteNetns(const Napi::CallbackInfo& info);
Napi::Value OpenNetnsFd(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);
Napi::Value WriteSysctl(const Napi::CallbackInfo& info);
Napi::Value ReadSysctl(const Napi::CallbackInfo& info);

}  // namespace sluice

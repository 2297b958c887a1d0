#pragma once

#include <napi.h>

#include "common.h"

namespace sluice {

Napi::Value OpenNetlink(const Napi::CallbackInfo& info);
Napi::Value Exchange(const Napi::CallbackInfo& info);
Napi::Value ExchangeSync(const Napi::CallbackInfo& info);
Napi::Value OpenNetlinkWatch(const Napi::CallbackInfo& info);
Napi::Value DrainNetlink(const Napi::CallbackInfo& info);

}  // namespace sluice

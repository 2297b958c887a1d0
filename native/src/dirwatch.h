#pragma once

#include <napi.h>

#include "common.h"

namespace sluice {

Napi::Value OpenDirWatch(const Napi::CallbackInfo& info);
Napi::Value DrainDirWatch(const Napi::CallbackInfo& info);

}  // namespace sluice

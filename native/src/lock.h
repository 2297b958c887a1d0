#pragma once

#include <napi.h>

#include "common.h"

namespace sluice {

Napi::Value TryLockExclusive(const Napi::CallbackInfo& info);

}  // namespace sluice

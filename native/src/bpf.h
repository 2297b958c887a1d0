#pragma once

#include <napi.h>

#include "common.h"

namespace sluice {

Napi::Value LoadNetclsClassidProgram(const Napi::CallbackInfo& info);

}  // namespace sluice

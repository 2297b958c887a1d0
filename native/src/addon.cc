// Sluice's native addon: what Node cannot do by itself. Creating and deleting named
// network namespaces, opening sockets and touching sysctls inside one without moving a
// Node thread, batched netlink exchanges off the JS thread, listening for changes, and
// loading the cls_bpf program behind the net_cls match, and watching a directory. Every failure is an Error with code/errno/syscall/path.
#include <napi.h>

#include "bpf.h"
#include "cgroup.h"
#include "dirwatch.h"
#include "lock.h"
#include "netlink.h"
#include "netns.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("createNetns", Napi::Function::New(env, sluice::CreateNetns, "createNetns"));
  exports.Set("deleteNetns", Napi::Function::New(env, sluice::DeleteNetns, "deleteNetns"));
  exports.Set("openNetnsFd", Napi::Function::New(env, sluice::OpenNetnsFd, "openNetnsFd"));
  exports.Set("closeFd", Napi::Function::New(env, sluice::CloseFd, "closeFd"));
  exports.Set("writeSysctl", Napi::Function::New(env, sluice::WriteSysctl, "writeSysctl"));
  exports.Set("readSysctl", Napi::Function::New(env, sluice::ReadSysctl, "readSysctl"));
  exports.Set("openNetlink", Napi::Function::New(env, sluice::OpenNetlink, "openNetlink"));
  exports.Set("exchange", Napi::Function::New(env, sluice::Exchange, "exchange"));
  exports.Set("exchangeSync", Napi::Function::New(env, sluice::ExchangeSync, "exchangeSync"));
  exports.Set("openNetlinkWatch", Napi::Function::New(env, sluice::OpenNetlinkWatch, "openNetlinkWatch"));
  exports.Set("drainNetlink", Napi::Function::New(env, sluice::DrainNetlink, "drainNetlink"));
  exports.Set("openDirWatch", Napi::Function::New(env, sluice::OpenDirWatch, "openDirWatch"));
  exports.Set("drainDirWatch", Napi::Function::New(env, sluice::DrainDirWatch, "drainDirWatch"));
  exports.Set("loadNetclsClassidProgram",
              Napi::Function::New(env, sluice::LoadNetclsClassidProgram, "loadNetclsClassidProgram"));
  exports.Set("mountCgroupV1", Napi::Function::New(env, sluice::MountCgroupV1, "mountCgroupV1"));
  exports.Set("tryLockExclusive", Napi::Function::New(env, sluice::TryLockExclusive, "tryLockExclusive"));
  return exports;
}

}  // namespace

NODE_API_MODULE(sluice_native, Init)

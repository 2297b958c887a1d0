// Shared helpers: errno-carrying failures and "run this on a throwaway thread".
#pragma once

#include <napi.h>

#include <functional>
#include <string>

namespace sluice {

// A failed system call, captured where it happened (possibly off the JS thread) and
// turned into a JS Error later on the JS thread.
struct SysFailure {
  int err = 0;
  std::string syscall;
  std::string path;
  std::string detail;  // extra text for the message (e.g. the BPF verifier log)

  bool failed() const { return err != 0; }
  static SysFailure fromErrno(const char* syscall, const std::string& path = "");
};

// Builds an Error like Node's fs errors: message "ECODE: strerror, syscall 'path'" and
// properties code, errno, syscall, path.
Napi::Error MakeSysError(Napi::Env env, const SysFailure& failure);

// Throws and returns undefined, for the NAPI_DISABLE_CPP_EXCEPTIONS style.
Napi::Value ThrowSysError(Napi::Env env, const SysFailure& failure);
Napi::Value ThrowTypeError(Napi::Env env, const std::string& message);

// Runs `task` on a new pthread and waits for it. Namespace switches (setns/unshare)
// happen there, so no thread Node owns ever leaves its namespace; the thread dies with
// whatever namespace it entered.
SysFailure RunOnFreshThread(const std::function<SysFailure()>& task);

// Opens `path` and setns()es the calling thread into the network namespace it names.
SysFailure EnterNetns(const std::string& path);

}  // namespace sluice

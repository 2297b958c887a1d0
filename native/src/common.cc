#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

namespace sluice {

SysFailure SysFailure::fromErrno(const char* syscall, const std::string& path) {
  SysFailure failure;
  failure.err = errno != 0 ? errno : EIO;
  failure.syscall = syscall;
  failure.path = path;
  return failure;
}

static std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : "E" + std::to_string(err);
}

Napi::Error MakeSysError(Napi::Env env, const SysFailure& failure) {
  const std::string code = ErrnoName(failure.err);
  std::string message = code + ": " + strerror(failure.err) + ", " + failure.syscall;
  if (!failure.path.empty()) message += " '" + failure.path + "'";
  if (!failure.detail.empty()) message += "\n" + failure.detail;
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object object = error.Value();
  object.Set("code", Napi::String::New(env, code));
  object.Set("errno", Napi::Number::New(env, failure.err));
  object.Set("syscall", Napi::String::New(env, failure.syscall));
  if (!failure.path.empty()) object.Set("path", Napi::String::New(env, failure.path));
  if (!failure.detail.empty()) object.Set("detail", Napi::String::New(env, failure.detail));
  return error;
}

Napi::Value ThrowSysError(Napi::Env env, const SysFailure& failure) {
  MakeSysError(env, failure).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

namespace {
struct ThreadJob {
  const std::function<SysFailure()>* task;
  SysFailure result;
};

void* RunThreadJob(void* arg) {
  ThreadJob* job = static_cast<ThreadJob*>(arg);
  job->result = (*job->task)();
  return nullptr;
}
}  // namespace

SysFailure RunOnFreshThread(const std::function<SysFailure()>& task) {
  ThreadJob job{&task, SysFailure{}};
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, RunThreadJob, &job);
  if (err != 0) {
    SysFailure failure;
    failure.err = err;
    failure.syscall = "pthread_create";
    return failure;
  }
  pthread_join(thread, nullptr);
  return job.result;
}

SysFailure EnterNetns(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SysFailure::fromErrno("open", path);
  if (setns(fd, CLONE_NEWNET) != 0) {
    SysFailure failure = SysFailure::fromErrno("setns", path);
    close(fd);
    return failure;
  }
  close(fd);
  return SysFailure{};
}

}  // namespace sluice

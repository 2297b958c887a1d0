// The cls_bpf program that classifies by the socket's net_cls classid. cls_cgroup is
// not built into every kernel; this two-instruction program does the same job: in
// cls_bpf's classic (non direct-action) mode a non-zero return value is the classid.
#include "bpf.h"

#include <errno.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sluice {
namespace {

const char kProgramName[] = "sl_netcls";
const char kLicense[] = "GPL";
const uint32_t kVerifierLogBytes = 64 * 1024;

bpf_insn Insn(uint8_t code, int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.imm = imm;
  return insn;
}

int LoadProgram(const bpf_insn* insns, uint32_t count, char* log, uint32_t logSize) {
  bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
  attr.insns = reinterpret_cast<uint64_t>(insns);
  attr.insn_cnt = count;
  attr.license = reinterpret_cast<uint64_t>(kLicense);
  attr.log_buf = reinterpret_cast<uint64_t>(log);
  attr.log_size = logSize;
  attr.log_level = log != nullptr ? 1 : 0;
  strncpy(attr.prog_name, kProgramName, sizeof attr.prog_name - 1);
  int fd;
  do {
    fd = static_cast<int>(syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
  } while (fd < 0 && errno == EAGAIN);  // the verifier may ask to retry on signals
  return fd;
}

}  // namespace

Napi::Value LoadNetclsClassidProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // r0 = bpf_get_cgroup_classid(r1 = skb); return r0
  const bpf_insn program[] = {
      Insn(BPF_JMP | BPF_CALL, BPF_FUNC_get_cgroup_classid),
      Insn(BPF_JMP | BPF_EXIT, 0),
  };
  const uint32_t count = sizeof program / sizeof program[0];
  int fd = LoadProgram(program, count, nullptr, 0);
  if (fd < 0) {
    SysFailure failure = SysFailure::fromErrno("bpf(BPF_PROG_LOAD)");
    // Load again with the verifier log so the error says why (EPERM/ENOSYS have none).
    std::vector<char> log(kVerifierLogBytes, '\0');
    if (LoadProgram(program, count, log.data(), kVerifierLogBytes) < 0 && log[0] != '\0') {
      failure.detail = std::string("verifier: ") + log.data();
    }
    return ThrowSysError(env, failure);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("name", Napi::String::New(env, kProgramName));
  return result;
}

}  // namespace sluice

// NETLINK_ROUTE sockets opened inside a namespace, and batched request/answer exchanges
// run off the JS thread (or, small and without dumps, on it: ExchangeSync).
#include "netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sluice {
namespace {

const int kSocketBufferBytes = 8 * 1024 * 1024;
// rtnetlink handles a whole datagram inside sendmsg() and queues every answer before
// we can read one, so a datagram's answers must fit the receive buffer: keep datagrams
// small next to it.
const size_t kMaxDatagramBytes = 64 * 1024;
const size_t kRecvBufferBytes = 256 * 1024;
// A request the kernel never answers (a misframed batch) must not pin a worker forever.
const int kAnswerTimeoutMs = 30 * 1000;

void SetBufferSize(int fd, int forceOption, int option) {
  int bytes = kSocketBufferBytes;
  // The FORCE variants ignore rmem_max/wmem_max but need CAP_NET_ADMIN; the plain ones
  // are capped by the sysctl, which is still better than the default.
  if (setsockopt(fd, SOL_SOCKET, forceOption, &bytes, sizeof bytes) != 0) {
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
  }
}

SysFailure OpenRouteSocketHere(int* out) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return SysFailure::fromErrno("socket");
  SetBufferSize(fd, SO_SNDBUFFORCE, SO_SNDBUF);
  SetBufferSize(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  int one = 1;
  // Extended acks carry the kernel's own error text; capped acks keep each ack at
  // 36 bytes instead of echoing the whole request back.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    SysFailure failure = SysFailure::fromErrno("bind");
    close(fd);
    return failure;
  }
  *out = fd;
  return SysFailure{};
}

// A socket that only listens to the namespace's rtnetlink multicast groups: the kernel
// queues a message there for every change to a link, address, route or tc object, so an
// empty queue means nothing changed since it was last drained.
SysFailure OpenWatchSocketHere(const std::vector<uint32_t>& groups, int* out) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return SysFailure::fromErrno("socket");
  SetBufferSize(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  SysFailure failure;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) failure = SysFailure::fromErrno("bind");
  for (size_t i = 0; i < groups.size() && !failure.failed(); ++i) {
    uint32_t group = groups[i];
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
      failure = SysFailure::fromErrno("setsockopt(NETLINK_ADD_MEMBERSHIP)");
    }
  }
  if (failure.failed()) {
    close(fd);
    return failure;
  }
  *out = fd;
  return SysFailure{};
}

// What ends the kernel's answer to one request.
enum class Awaiting { kAck, kDumpEnd, kSingleReply };

struct PendingRequest {
  Awaiting awaiting;
};

// NLM_F_DUMP|NLM_F_ACK on a GET request: the dump ends with NLMSG_DONE and the kernel
// sends no ack after it, so the dump flag decides first. (NLM_F_DUMP shares its bits
// with NLM_F_REPLACE|NLM_F_EXCL, so only GET types are dumps.)
Awaiting AwaitingFor(const nlmsghdr* header) {
  const bool isGet = header->nlmsg_type >= RTM_BASE && (header->nlmsg_type & 3) == 2;
  if (isGet && (header->nlmsg_flags & NLM_F_DUMP) != 0) return Awaiting::kDumpEnd;
  if (header->nlmsg_flags & NLM_F_ACK) return Awaiting::kAck;
  return Awaiting::kSingleReply;
}

bool IsFinalAnswer(const nlmsghdr* answer, Awaiting awaiting) {
  if (answer->nlmsg_type == NLMSG_ERROR) return true;
  switch (awaiting) {
    case Awaiting::kAck:
      return false;
    case Awaiting::kDumpEnd:
      return answer->nlmsg_type == NLMSG_DONE;
    case Awaiting::kSingleReply:
      return (answer->nlmsg_flags & NLM_F_MULTI) == 0 || answer->nlmsg_type == NLMSG_DONE;
  }
  return false;
}

// One batch: sends the messages a datagram at a time and collects every awaited answer.
// Run on a pool thread (ExchangeWorker) or in line (ExchangeSync).
class Exchanger {
 public:
  Exchanger(int fd, std::vector<std::vector<uint8_t>> messages, std::unordered_set<uint32_t> awaitedSeqs)
      : fd_(fd), messages_(std::move(messages)), awaitedSeqs_(std::move(awaitedSeqs)) {}

  void Run() {
    std::vector<uint8_t> receiveBuffer(kRecvBufferBytes);
    size_t next = 0;
    while (next < messages_.size() && !failure_.failed()) {
      std::vector<uint8_t> datagram;
      std::unordered_map<uint32_t, PendingRequest> pending;
      next = PackDatagram(next, &datagram, &pending);
      failure_ = SendDatagram(datagram);
      if (!failure_.failed()) failure_ = ReceiveAnswers(&pending, &receiveBuffer);
    }
  }

  const SysFailure& failure() const { return failure_; }

  // One Buffer holding every answer back to back (each padded to NLMSG_ALIGN), not one
  // per answer: a dump of 10,000 classes would otherwise allocate 10,000 external
  // buffers. The caller splits it (src/kernel/netlink/nativeChannel.ts).
  Napi::Array Answers(Napi::Env env) const {
    Napi::Array result = Napi::Array::New(env, answers_.empty() ? 0 : 1);
    if (!answers_.empty()) result.Set(0u, Napi::Buffer<uint8_t>::Copy(env, answers_.data(), answers_.size()));
    return result;
  }

 private:
  // Packs whole messages starting at `first` into one datagram; returns the next index.
  // A dump request ends its datagram: the kernel runs one dump at a time per socket and
  // refuses a second one (EBUSY) until the first's NLMSG_DONE has been read, so many dumps
  // in one exchange go one datagram each, each read to its end before the next is sent.
  size_t PackDatagram(size_t first, std::vector<uint8_t>* datagram,
                      std::unordered_map<uint32_t, PendingRequest>* pending) const {
    size_t index = first;
    while (index < messages_.size()) {
      const std::vector<uint8_t>& message = messages_[index];
      size_t aligned = NLMSG_ALIGN(message.size());
      if (!datagram->empty() && datagram->size() + aligned > kMaxDatagramBytes) break;
      const nlmsghdr* header = reinterpret_cast<const nlmsghdr*>(message.data());
      const Awaiting awaiting = AwaitingFor(header);
      if (awaitedSeqs_.count(header->nlmsg_seq) != 0) (*pending)[header->nlmsg_seq] = PendingRequest{awaiting};
      datagram->insert(datagram->end(), message.begin(), message.end());
      datagram->resize(datagram->size() + (aligned - message.size()), 0);
      ++index;
      if (awaiting == Awaiting::kDumpEnd) break;
    }
    return index;
  }

  SysFailure SendDatagram(const std::vector<uint8_t>& datagram) const {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      ssize_t sent = sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                            sizeof kernel);
      if (sent >= 0) return SysFailure{};
      if (errno != EINTR) return SysFailure::fromErrno("sendto");
    }
  }

  SysFailure ReceiveAnswers(std::unordered_map<uint32_t, PendingRequest>* pending, std::vector<uint8_t>* buffer) {
    while (!pending->empty()) {
      ssize_t length = 0;
      SysFailure failure = ReceiveDatagram(buffer, &length);
      if (failure.failed()) return failure;
      CollectAnswers(buffer->data(), static_cast<size_t>(length), pending);
    }
    return SysFailure{};
  }

  SysFailure ReceiveDatagram(std::vector<uint8_t>* buffer, ssize_t* length) const {
    for (;;) {
      pollfd readable{fd_, POLLIN, 0};
      int ready = poll(&readable, 1, kAnswerTimeoutMs);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return SysFailure::fromErrno("poll");
      if (ready == 0) {
        SysFailure timeout;
        timeout.err = ETIMEDOUT;
        timeout.syscall = "recv";
        timeout.detail = "the kernel did not answer every request of the batch";
        return timeout;
      }
      // MSG_TRUNC makes recv report the datagram's real size, so a too-small buffer is
      // detected instead of silently losing the tail of a dump.
      ssize_t got = recv(fd_, buffer->data(), buffer->size(), MSG_TRUNC);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return SysFailure::fromErrno("recv");
      if (static_cast<size_t>(got) > buffer->size()) {
        SysFailure truncated;
        truncated.err = EMSGSIZE;
        truncated.syscall = "recv";
        truncated.detail = "a netlink answer did not fit the receive buffer";
        return truncated;
      }
      *length = got;
      return SysFailure{};
    }
  }

  void CollectAnswers(const uint8_t* data, size_t length, std::unordered_map<uint32_t, PendingRequest>* pending) {
    int remaining = static_cast<int>(length);
    for (const nlmsghdr* answer = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(answer, remaining);
         answer = NLMSG_NEXT(answer, remaining)) {
      // Answers to requests of an earlier, aborted exchange may still be queued: drop them.
      if (awaitedSeqs_.count(answer->nlmsg_seq) == 0) continue;
      const uint8_t* start = reinterpret_cast<const uint8_t*>(answer);
      answers_.insert(answers_.end(), start, start + answer->nlmsg_len);
      answers_.resize(answers_.size() + (NLMSG_ALIGN(answer->nlmsg_len) - answer->nlmsg_len), 0);
      auto entry = pending->find(answer->nlmsg_seq);
      if (entry != pending->end() && IsFinalAnswer(answer, entry->second.awaiting)) pending->erase(entry);
    }
  }

  int fd_;
  std::vector<std::vector<uint8_t>> messages_;
  std::unordered_set<uint32_t> awaitedSeqs_;
  // Every awaited answer, back to back, each padded to NLMSG_ALIGN.
  std::vector<uint8_t> answers_;
  SysFailure failure_;
};


class ExchangeWorker : public Napi::AsyncWorker {
 public:
  ExchangeWorker(Napi::Env env, Exchanger exchanger)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), exchanger_(std::move(exchanger)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { exchanger_.Run(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (exchanger_.failure().failed()) {
      deferred_.Reject(MakeSysError(env, exchanger_.failure()).Value());
      return;
    }
    deferred_.Resolve(exchanger_.Answers(env));
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Exchanger exchanger_;
};

// exchange's and exchangeSync's arguments (fd, messages, seqs), checked; false when they
// are not (a TypeError is then pending).
bool ParseExchange(const Napi::CallbackInfo& info, const char* name, int* fd,
                   std::vector<std::vector<uint8_t>>* messages, std::unordered_set<uint32_t>* seqs) {
  Napi::Env env = info.Env();
  const std::string fn(name);
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsArray()) {
    ThrowTypeError(env, fn + "(fd, messages: Buffer[], seqs: number[])");
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Array messageArray = info[1].As<Napi::Array>();
  Napi::Array seqArray = info[2].As<Napi::Array>();
  messages->reserve(messageArray.Length());
  for (uint32_t i = 0; i < messageArray.Length(); ++i) {
    Napi::Value value = messageArray.Get(i);
    if (!value.IsBuffer()) {
      ThrowTypeError(env, fn + ": messages[" + std::to_string(i) + "] is not a Buffer");
      return false;
    }
    Napi::Buffer<uint8_t> buffer = value.As<Napi::Buffer<uint8_t>>();
    const nlmsghdr* header = reinterpret_cast<const nlmsghdr*>(buffer.Data());
    if (buffer.Length() < NLMSG_HDRLEN || header->nlmsg_len != buffer.Length()) {
      ThrowTypeError(env, fn + ": messages[" + std::to_string(i) +
                              "] is not one framed nlmsg (nlmsg_len must equal the buffer length)");
      return false;
    }
    if (NLMSG_ALIGN(buffer.Length()) > kMaxDatagramBytes) {
      ThrowTypeError(env, fn + ": messages[" + std::to_string(i) + "] exceeds 64 KiB");
      return false;
    }
    messages->emplace_back(buffer.Data(), buffer.Data() + buffer.Length());
  }
  for (uint32_t i = 0; i < seqArray.Length(); ++i) {
    Napi::Value value = seqArray.Get(i);
    if (!value.IsNumber()) {
      ThrowTypeError(env, fn + ": seqs[" + std::to_string(i) + "] is not a number");
      return false;
    }
    seqs->insert(value.As<Napi::Number>().Uint32Value());
  }
  return true;
}

}  // namespace

Napi::Value OpenNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowTypeError(env, "openNetlink(path): path must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path[0] != '/') return ThrowTypeError(env, "openNetlink(path): path must be absolute");
  int fd = -1;
  SysFailure failure = RunOnFreshThread([&]() {
    SysFailure entered = EnterNetns(path);
    return entered.failed() ? entered : OpenRouteSocketHere(&fd);
  });
  if (failure.failed()) return ThrowSysError(env, failure);
  return Napi::Number::New(env, fd);
}

Napi::Value Exchange(const Napi::CallbackInfo& info) {
  int fd = -1;
  std::vector<std::vector<uint8_t>> messages;
  std::unordered_set<uint32_t> seqs;
  if (!ParseExchange(info, "exchange", &fd, &messages, &seqs)) return info.Env().Undefined();
  ExchangeWorker* worker = new ExchangeWorker(info.Env(), Exchanger(fd, std::move(messages), std::move(seqs)));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// The same exchange on the JS thread: for a small batch with no dump the kernel has
// queued every answer before sendto returns (rtnetlink handles a request inside
// sendmsg), so nothing waits, and the pool hop and the event loop turn back cost more
// than the batch itself.
Napi::Value ExchangeSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  std::vector<std::vector<uint8_t>> messages;
  std::unordered_set<uint32_t> seqs;
  if (!ParseExchange(info, "exchangeSync", &fd, &messages, &seqs)) return env.Undefined();
  Exchanger exchanger(fd, std::move(messages), std::move(seqs));
  exchanger.Run();
  if (exchanger.failure().failed()) return ThrowSysError(env, exchanger.failure());
  return exchanger.Answers(env);
}

Napi::Value OpenNetlinkWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    return ThrowTypeError(env, "openNetlinkWatch(path, groups: number[])");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path[0] != '/') return ThrowTypeError(env, "openNetlinkWatch(path): path must be absolute");
  Napi::Array groupArray = info[1].As<Napi::Array>();
  std::vector<uint32_t> groups;
  for (uint32_t i = 0; i < groupArray.Length(); ++i) {
    Napi::Value value = groupArray.Get(i);
    if (!value.IsNumber()) return ThrowTypeError(env, "openNetlinkWatch: groups[" + std::to_string(i) + "] is not a number");
    groups.push_back(value.As<Napi::Number>().Uint32Value());
  }
  int fd = -1;
  SysFailure failure = RunOnFreshThread([&]() {
    SysFailure entered = EnterNetns(path);
    return entered.failed() ? entered : OpenWatchSocketHere(groups, &fd);
  });
  if (failure.failed()) return ThrowSysError(env, failure);
  return Napi::Number::New(env, fd);
}

// Reads whatever is queued without blocking. ENOBUFS means the queue overflowed and
// messages were lost: the caller cannot know what changed, only that something did.
Napi::Value DrainNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "drainNetlink(fd)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  std::vector<uint8_t> buffer(kRecvBufferBytes);
  uint32_t messages = 0;
  bool overflowed = false;
  for (;;) {
    ssize_t got = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got > 0) {
      ++messages;
      continue;
    }
    if (got == 0 || errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR) continue;
    if (errno == ENOBUFS) {
      overflowed = true;
      continue;
    }
    return ThrowSysError(env, SysFailure::fromErrno("recv"));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("messages", Napi::Number::New(env, messages));
  result.Set("overflowed", Napi::Boolean::New(env, overflowed));
  return result;
}

}  // namespace sluice

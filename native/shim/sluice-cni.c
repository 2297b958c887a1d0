/*
 * sluice-cni: the executable a runtime runs for a conflist's `"type": "sluice"`, small and
 * static so that a pod's ADD starts no Node process. It hands the invocation (the CNI_*
 * environment and the network configuration on stdin) to `sluice serve` over its control
 * socket, where the plugin's own TypeScript answers it (src/daemon/cni.ts, the same code
 * as the Node plugin), and prints serve's answer with its exit status. Only ADD and DEL
 * are handed over (the calls a runtime makes per pod); every other command, and any
 * invocation while serve does not answer, is the Node plugin's: this program execs
 * `<its own path>-node` with the same environment and stdin. The CNI protocol itself
 * lives in one place (src/cni).
 *
 * The control socket speaks one JSON line each way. Sent:
 *   {"cmd":"cni","env":{"CNI_COMMAND":"ADD",...},"stdin":"<the configuration, escaped>"}
 * Answered:
 *   {"ok":true,"result":{"code":0,"output":{...the plugin's JSON...}}}
 * This program reads only the top-level members it needs; it never interprets the
 * plugin's output, which it prints as serve wrote it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CONTROL_SOCKET "/run/sluice/sluice.sock"
#define FALLBACK_SUFFIX "-node"
/* A network configuration with its prevResult is a few KiB; anything near this is not one. */
#define MAX_STDIN (4u << 20)
#define MAX_REPLY (4u << 20)
/* serve answers once the record is synced (milliseconds); a daemon this slow is as good as down. */
#define ANSWER_TIMEOUT_S 5

static const char *const FORWARDED_ENV[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"};

struct buf {
  char *data;
  size_t len, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) return -1;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static int buf_puts(struct buf *b, const char *s) { return buf_put(b, s, strlen(s)); }

/* A JSON string literal of s: quotes, backslashes and control bytes escaped; UTF-8 passes through. */
static int buf_put_json_string(struct buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (buf_puts(b, "\"")) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
    if (c == '"' || c == '\\') {
      char two[2] = {'\\', (char)c};
      if (buf_put(b, two, 2)) return -1;
    } else if (c < 0x20) {
      if (buf_put(b, esc, 6)) return -1;
    } else if (buf_put(b, (const char *)&s[i], 1)) {
      return -1;
    }
  }
  return buf_puts(b, "\"");
}

/* ------------------------------------------------------------------ a top-level JSON member */

static size_t skip_ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

/* Index just past the string starting at s[i] == '"', or n when it does not end. */
static size_t skip_string(const char *s, size_t n, size_t i) {
  for (i++; i < n; i++) {
    if (s[i] == '\\') i++;
    else if (s[i] == '"') return i + 1;
  }
  return n;
}

/* Index just past the value starting at s[i], or n when it is malformed. */
static size_t skip_value(const char *s, size_t n, size_t i) {
  if (i >= n) return n;
  if (s[i] == '"') return skip_string(s, n, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < n) {
      if (s[i] == '"') {
        i = skip_string(s, n, i);
        continue;
      }
      if (s[i] == '{' || s[i] == '[') depth++;
      else if ((s[i] == '}' || s[i] == ']') && --depth == 0) return i + 1;
      i++;
    }
    return n;
  }
  while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') i++;
  return i;
}

/* The raw text of member `key` of the object s[0..n) (its keys compared as written): 0 found, -1 not. */
static int json_member(const char *s, size_t n, const char *key, const char **value, size_t *value_len) {
  size_t klen = strlen(key);
  size_t i = skip_ws(s, n, 0);
  if (i >= n || s[i] != '{') return -1;
  i = skip_ws(s, n, i + 1);
  while (i < n && s[i] == '"') {
    size_t kend = skip_string(s, n, i);
    if (kend >= n) return -1;
    int match = kend - i - 2 == klen && memcmp(s + i + 1, key, klen) == 0;
    i = skip_ws(s, n, kend);
    if (i >= n || s[i] != ':') return -1;
    i = skip_ws(s, n, i + 1);
    size_t vend = skip_value(s, n, i);
    if (vend >= n) return -1;
    if (match) {
      *value = s + i;
      *value_len = vend - i;
      return 0;
    }
    i = skip_ws(s, n, vend);
    if (i < n && s[i] == ',') i = skip_ws(s, n, i + 1);
  }
  return -1;
}

/* A member that is a string without escapes, copied into out (size cap): 0, or -1 (absent, escaped, too long). */
static int json_plain_string(const char *s, size_t n, const char *key, char *out, size_t cap) {
  const char *v;
  size_t len;
  if (json_member(s, n, key, &v, &len) || len < 2 || v[0] != '"' || len - 2 >= cap || memchr(v, '\\', len)) return -1;
  memcpy(out, v + 1, len - 2);
  out[len - 2] = '\0';
  return 0;
}

/* ------------------------------------------------------------------ the Node plugin */

/* Execs <own path>-node with stdin replayed from memory; returns only if that fails. */
static void exec_fallback(const char *argv0, const char *input, size_t len) {
  char self[PATH_MAX];
  if (strchr(argv0, '/')) {
    snprintf(self, sizeof self, "%s", argv0);
  } else {
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) return;
    self[n] = '\0';
  }
  char path[PATH_MAX + sizeof FALLBACK_SUFFIX];
  snprintf(path, sizeof path, "%s%s", self, FALLBACK_SUFFIX);
  int fd = memfd_create("sluice-cni-stdin", 0);
  if (fd < 0) return;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, input + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, STDIN_FILENO) < 0) return;
  close(fd);
  char *const args[] = {path, NULL};
  execv(path, args);
}

static int fail(const char *input, size_t len, const char *what) {
  char version[32] = "1.0.0";
  if (input) json_plain_string(input, len, "cniVersion", version, sizeof version);
  struct buf msg = {0};
  buf_puts(&msg, "sluice: ");
  buf_puts(&msg, what);
  buf_puts(&msg, ": ");
  buf_puts(&msg, strerror(errno));
  struct buf out = {0};
  buf_puts(&out, "{\"cniVersion\":");
  buf_put_json_string(&out, version, strlen(version));
  buf_puts(&out, ",\"code\":5,\"msg\":");
  buf_put_json_string(&out, msg.data ? msg.data : "sluice: failed", msg.data ? msg.len : 14);
  buf_puts(&out, ",\"details\":\"the sluice plugin could neither reach serve nor run its Node fallback; check the installation in the CNI bin directory\"}\n");
  if (out.data) fputs(out.data, stdout);
  return 1;
}

/* ------------------------------------------------------------------ handing over to serve */

static int read_all(int fd, struct buf *b, size_t max, int stop_at_newline) {
  char chunk[65536];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return 0;
    if (b->len + (size_t)r > max || buf_put(b, chunk, (size_t)r)) return -1;
    if (stop_at_newline && memchr(chunk, '\n', (size_t)r)) return 0;
  }
}

static int write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* serve's answer: exit status and output (may be absent); -1 when serve did not answer for the plugin. */
static int ask_serve(const char *socket_path, const char *input, size_t len, int *code, struct buf *output) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, socket_path);
  struct buf request = {0};
  if (buf_puts(&request, "{\"cmd\":\"cni\",\"env\":{")) return -1;
  int first = 1;
  for (size_t i = 0; i < sizeof FORWARDED_ENV / sizeof *FORWARDED_ENV; i++) {
    const char *value = getenv(FORWARDED_ENV[i]);
    if (!value) continue;
    if ((!first && buf_puts(&request, ",")) || buf_put_json_string(&request, FORWARDED_ENV[i], strlen(FORWARDED_ENV[i])) || buf_puts(&request, ":") || buf_put_json_string(&request, value, strlen(value))) return -1;
    first = 0;
  }
  if (buf_puts(&request, "},\"stdin\":") || buf_put_json_string(&request, input, len) || buf_puts(&request, "}\n")) return -1;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval timeout = {.tv_sec = ANSWER_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  struct buf reply = {0};
  int answered = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && write_all(fd, request.data, request.len) == 0 && read_all(fd, &reply, MAX_REPLY, 1) == 0;
  close(fd);
  free(request.data);
  if (!answered || !reply.data) return -1;

  const char *v, *result, *out;
  size_t vlen, rlen, olen;
  if (json_member(reply.data, reply.len, "ok", &v, &vlen) || vlen != 4 || memcmp(v, "true", 4) != 0) return -1;
  if (json_member(reply.data, reply.len, "result", &result, &rlen) || json_member(result, rlen, "code", &v, &vlen)) return -1;
  char digits[16];
  if (vlen == 0 || vlen >= sizeof digits) return -1;
  memcpy(digits, v, vlen);
  digits[vlen] = '\0';
  char *end;
  long parsed = strtol(digits, &end, 10);
  if (*end != '\0' || parsed < 0 || parsed > 255) return -1;
  *code = (int)parsed;
  if (json_member(result, rlen, "output", &out, &olen) == 0 && !(olen == 4 && memcmp(out, "null", 4) == 0)) {
    if (buf_put(output, out, olen) || buf_puts(output, "\n")) return -1;
  }
  free(reply.data);
  return 0;
}

int main(int argc, char **argv) {
  (void)argc;
  struct buf input = {0};
  if (read_all(STDIN_FILENO, &input, MAX_STDIN, 0) != 0) return fail(NULL, 0, "reading the network configuration on stdin");
  if (!input.data && buf_puts(&input, "")) return fail(NULL, 0, "allocating");
  const char *command = getenv("CNI_COMMAND");
  int forwarded = command && (strcmp(command, "ADD") == 0 || strcmp(command, "DEL") == 0);
  if (forwarded) {
    char socket_path[sizeof ((struct sockaddr_un *)0)->sun_path];
    int found = json_plain_string(input.data, input.len, "controlSocket", socket_path, sizeof socket_path);
    const char *v;
    size_t vlen;
    // Absent: serve's default; present but not a plain string: the Node plugin says what is wrong.
    if (found != 0 && json_member(input.data, input.len, "controlSocket", &v, &vlen) != 0) {
      strcpy(socket_path, DEFAULT_CONTROL_SOCKET);
      found = 0;
    }
    int code;
    struct buf output = {0};
    if (found == 0 && ask_serve(socket_path, input.data, input.len, &code, &output) == 0) {
      if (output.data && write_all(STDOUT_FILENO, output.data, output.len) != 0) return 1;
      return code;
    }
  }
  exec_fallback(argv[0], input.data, input.len);
  return fail(input.data, input.len, "running the Node plugin");
}

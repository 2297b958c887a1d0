{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["src/addon.cc", "src/common.cc", "src/netns.cc", "src/netlink.cc", "src/bpf.cc", "src/cgroup.cc", "src/lock.cc", "src/dirwatch.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lpthread"]
    },
    # The CNI plugin runtimes run (shim/sluice-cni.c): static where the C library allows it
    # (libc.a), since it runs on the node outside the image it was built in, and starts faster.
    {
      "target_name": "sluice-cni",
      "type": "executable",
      "sources": ["shim/sluice-cni.c"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra"],
      "ldflags": ["<!@(sh -c 'echo \"int main(void){return 0;}\" | cc -static -x c -o /dev/null - 2>/dev/null && echo -static || true')"]
    }
  ]
}
